package ethtool

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Which coalescing parameters a driver supports (its
// ethtool_ops.supported_coalesce_params) has no ioctl; the ethtool netlink
// interface shows it. net/ethtool/coalesce.c puts an ETHTOOL_A_COALESCE_*
// attribute in the COALESCE_GET reply unless the value is zero and the
// parameter is not in supported_coalesce_params, and ethtool -c prints
// "n/a" for each attribute left out. So the attributes of the reply are
// the supported parameters, plus any unsupported one the driver reports
// as nonzero.

// coalesceFirstAttr is ETHTOOL_A_COALESCE_RX_USECS, CoalesceParams[0];
// the attributes after it follow CoalesceParams. x/sys/unix stops at
// ETHTOOL_A_COALESCE_USE_CQE_MODE_RX (25); the three tx-aggr ones (26-28,
// Linux 6.1) follow it.
const coalesceFirstAttr = unix.ETHTOOL_A_COALESCE_RX_USECS

// coalesceSupported asks the kernel for ETHTOOL_MSG_COALESCE_GET of an
// interface, in the network namespace of the calling thread, and returns
// the parameters its reply carries. It returns nil, nil when the kernel
// has no ethtool netlink family (before Linux 5.6, or
// CONFIG_ETHTOOL_NETLINK off) or no COALESCE_GET in it (5.6): the set is
// then unknown. Callers ask only after the ETHTOOL_GCOALESCE ioctl
// succeeded, so EOPNOTSUPP here is the kernel's unknown command, not a
// driver without coalescing.
func coalesceSupported(ifname string) ([]string, error) {
	fam, err := netlink.GenlFamilyGet(unix.ETHTOOL_GENL_NAME)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPROTONOSUPPORT) {
			return nil, nil
		}
		return nil, fmt.Errorf("resolve generic netlink family %q: %w", unix.ETHTOOL_GENL_NAME, err)
	}
	req := nl.NewNetlinkRequest(int(fam.ID), 0)
	req.AddData(&nl.Genlmsg{Command: unix.ETHTOOL_MSG_COALESCE_GET, Version: unix.ETHTOOL_GENL_VERSION})
	hdr := nl.NewRtAttr(unix.ETHTOOL_A_COALESCE_HEADER|unix.NLA_F_NESTED, nil)
	hdr.AddRtAttr(unix.ETHTOOL_A_HEADER_DEV_NAME, nl.ZeroTerminated(ifname))
	req.AddData(hdr)
	msgs, err := req.Execute(unix.NETLINK_GENERIC, fam.ID)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("ETHTOOL_MSG_COALESCE_GET: %d replies", len(msgs))
	}
	return parseCoalesceReply(msgs[0])
}

// parseCoalesceReply reads the parameters present in a COALESCE_GET reply
// (the generic netlink header and its attributes, without the netlink
// header), in CoalesceParams order. Attributes nettune has no name for
// (the nested rx/tx profiles of Linux 6.10) are skipped.
func parseCoalesceReply(b []byte) ([]string, error) {
	if len(b) < nl.SizeofGenlmsg {
		return nil, fmt.Errorf("coalescing reply of %d bytes", len(b))
	}
	attrs, err := nl.ParseRouteAttr(b[nl.SizeofGenlmsg:])
	if err != nil {
		return nil, fmt.Errorf("parse coalescing reply: %w", err)
	}
	present := make([]bool, len(CoalesceParams))
	for _, a := range attrs {
		i := int(a.Attr.Type&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER)) - coalesceFirstAttr
		if i >= 0 && i < len(CoalesceParams) {
			present[i] = true
		}
	}
	out := []string{}
	for i, p := range CoalesceParams {
		if present[i] {
			out = append(out, p)
		}
	}
	return out, nil
}
