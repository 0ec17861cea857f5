package profile

import "github.com/nettune/nettune/pkg/cpuset"

// APIVersion is the only profile version this nettune reads.
const APIVersion = "nettune/v1"

// The struct tags below drive the strict decoder, the validation of enums
// and ranges, and the JSON Schema in schema/profile.schema.json:
//
//	yaml:"name"        the key in the profile
//	required:"true"    the key must be present
//	enum:"a,b"         the allowed values (for a list: of each element)
//	min:"N" max:"N"    the allowed range of an integer
//	doc:"..."          the description shown in the schema and the docs

// Profile is one nettune profile document.
type Profile struct {
	APIVersion string   `yaml:"apiVersion" required:"true" enum:"nettune/v1" doc:"Profile format version."`
	Kind       string   `yaml:"kind" required:"true" enum:"Profile" doc:"Document kind."`
	Metadata   Metadata `yaml:"metadata" required:"true"`
	Extends    string   `yaml:"extends" doc:"A profile to start from: a path relative to this file, or a name: /etc/nettune/profiles/NAME.yaml if it exists, else a shipped profile. Maps are merged key by key (null removes an inherited key); lists and scalars replace."`
	Spec       Spec     `yaml:"spec" doc:"The desired host state."`

	// Source is the file the profile was read from (not part of the YAML).
	Source string `yaml:"-" json:"-"`
	// Positions are where the spec's sections, keys and list items were
	// written (see Where); not part of the YAML.
	Positions map[string]Position `yaml:"-" json:"-"`
}

// Metadata names and describes a profile.
type Metadata struct {
	Name        string `yaml:"name" required:"true" doc:"Profile name, shown in plans and recorded in the journal."`
	Description string `yaml:"description" doc:"What the profile is for."`
}

// Spec is the desired state, one section per module.
type Spec struct {
	Sysctl     map[string]SysctlValue `yaml:"sysctl" doc:"Kernel parameters under /proc/sys, by sysctl name (dots or slashes). Values are strings, numbers, or lists of numbers (tcp_rmem)."`
	CPU        *CPU                   `yaml:"cpu" doc:"CPU isolation through the kernel command line, and power settings."`
	Hugepages  *Hugepages             `yaml:"hugepages" doc:"Hugepage pools, hugetlbfs mounts and transparent hugepages."`
	NICs       []NIC                  `yaml:"nics" doc:"Kernel network interface tuning, per matched NIC."`
	IRQBalance *IRQBalance            `yaml:"irqbalance" doc:"How irqbalance coexists with pinned IRQs."`
	Devices    []Device               `yaml:"devices" doc:"PCI devices to bind to a driver (vfio-pci for DPDK)."`
	Dataplane  *Dataplane             `yaml:"dataplane" doc:"The bundled DPDK forwarder started by nettune run."`
}

// CPU is spec.cpu.
type CPU struct {
	Isolated      cpuset.Set `yaml:"isolated" doc:"CPUs taken away from the scheduler and kernel housekeeping (isolcpus=)."`
	Housekeeping  cpuset.Set `yaml:"housekeeping" doc:"CPUs that keep kernel work and IRQs; default: every online CPU that is not isolated."`
	NohzFull      *bool      `yaml:"nohzFull" doc:"Stop the scheduler tick on isolated CPUs (nohz_full=). Default true when CPUs are isolated."`
	RcuNocbs      *bool      `yaml:"rcuNocbs" doc:"Offload RCU callbacks from isolated CPUs (rcu_nocbs=). Default true when CPUs are isolated."`
	IsolcpusFlags []string   `yaml:"isolcpusFlags" enum:"managed_irq,domain,nohz" doc:"Flags for isolcpus=; default [managed_irq, domain]."`
	IRQAffinity   *bool      `yaml:"irqAffinity" doc:"Set irqaffinity= to the housekeeping CPUs. Default true when CPUs are isolated."`
	AllowCPU0     bool       `yaml:"allowIsolatingCPU0" doc:"Permit isolating CPU 0, which normally stays housekeeping."`
	KernelArgs    []string   `yaml:"kernelArgs" doc:"Further kernel arguments nettune owns, for example skew_tick=1, iommu=pt, intel_iommu=on."`
	Power         *Power     `yaml:"power" doc:"Power management for latency."`
}

// Power is spec.cpu.power.
type Power struct {
	Governor    string `yaml:"governor" enum:"performance,powersave,schedutil,ondemand,conservative,userspace" doc:"cpufreq governor set at runtime on the isolated CPUs (all CPUs when none are isolated)."`
	MaxCState   *int   `yaml:"maxCState" min:"0" max:"10" doc:"Deepest C-state allowed: intel_idle.max_cstate= and processor.max_cstate= (boot)."`
	IdlePoll    bool   `yaml:"idlePoll" doc:"idle=poll (boot): never enter a C-state; burns power for the lowest wake-up latency."`
	IntelPstate string `yaml:"intelPstate" enum:"active,passive,disable" doc:"intel_pstate= (boot)."`
}

// Hugepages is spec.hugepages.
type Hugepages struct {
	DefaultSize Size             `yaml:"defaultSize" doc:"default_hugepagesz= (boot) and the size of plain hugetlbfs mounts."`
	Pages       []HugepagePool   `yaml:"pages" doc:"Pools to reserve."`
	Mounts      []HugetlbfsMount `yaml:"mounts" doc:"hugetlbfs mount points, persisted in /etc/fstab."`
	Transparent string           `yaml:"transparent" enum:"always,madvise,never" doc:"Transparent hugepage mode (/sys/kernel/mm/transparent_hugepage/enabled)."`
}

// HugepagePool is one entry of spec.hugepages.pages.
type HugepagePool struct {
	Size  Size `yaml:"size" required:"true" doc:"Page size: 2M or 1G (also 2048kB, 1GiB...)."`
	Count int  `yaml:"count" required:"true" min:"0" max:"4294967295" doc:"Number of pages. Without node: the total, split evenly across NUMA nodes. At most 2^32-1 (the kernel counts pages per node in an unsigned int); plan also refuses more pages than the memory (MemTotal) holds."`
	Node  *int `yaml:"node" min:"0" max:"1023" doc:"NUMA node the pages come from (the kernel has at most 1024)."`
	Boot  bool `yaml:"boot" doc:"Reserve at boot through kernel arguments (hugepagesz=, hugepages=) instead of at runtime; the reliable way to get 1G pages."`
}

// HugetlbfsMount is one entry of spec.hugepages.mounts.
type HugetlbfsMount struct {
	Path     string `yaml:"path" required:"true" doc:"Mount point."`
	PageSize Size   `yaml:"pageSize" doc:"pagesize= option; default: defaultSize."`
	Mode     string `yaml:"mode" doc:"Octal permissions of the mount root, e.g. \"1770\"."`
	UID      *int   `yaml:"uid" min:"0" max:"4294967294"`
	GID      *int   `yaml:"gid" min:"0" max:"4294967294"`
}

// NIC is one entry of spec.nics.
type NIC struct {
	Match       NICMatch        `yaml:"match" required:"true" doc:"Which NICs this entry tunes."`
	Rings       *Rings          `yaml:"rings" doc:"Ring (descriptor) sizes (ethtool -G)."`
	Channels    *Channels       `yaml:"channels" doc:"Queue counts (ethtool -L)."`
	Coalesce    *Coalesce       `yaml:"coalesce" doc:"Interrupt coalescing (ethtool -C)."`
	Features    map[string]bool `yaml:"features" doc:"Offloads by their ethtool names (ethtool -K), e.g. rx-gro-hw, tx-tcp-segmentation."`
	RSS         *RSS            `yaml:"rss" doc:"RSS indirection table (ethtool -X)."`
	IRQAffinity *NICIRQAffinity `yaml:"irqAffinity" doc:"Where the NIC's queue interrupts run."`
	RPS         *QueueCPUs      `yaml:"rps" doc:"Receive Packet Steering: CPUs that process packets of each rx queue (rps_cpus)."`
	RFS         *RFS            `yaml:"rfs" doc:"Receive Flow Steering (rps_flow_cnt, net.core.rps_sock_flow_entries)."`
	XPS         *QueueCPUs      `yaml:"xps" doc:"Transmit Packet Steering: CPUs that use each tx queue (xps_cpus)."`
	TxQueueLen  *int            `yaml:"txqueuelen" min:"0" max:"4294967295" doc:"Length of the transmit queue (ip link set txqueuelen; an unsigned int in the kernel)."`
	// NAPI settings of the device (/sys/class/net/<if>/…; see docs/nics.md).
	NAPIDeferHardIrqs *int         `yaml:"napiDeferHardIrqs" min:"0" max:"2147483647" doc:"Empty NAPI polls after which the device's hard IRQs are re-armed; until then the gro_flush_timeout timer re-polls instead (/sys/class/net/<if>/napi_defer_hard_irqs; the kernel refuses more than 2^31-1). Has no effect while groFlushTimeout is 0."`
	GROFlushTimeout   *Nanoseconds `yaml:"groFlushTimeout" doc:"Delay of the NAPI re-poll timer that holds GRO packets and defers hard IRQs, in nanoseconds (/sys/class/net/<if>/gro_flush_timeout): a number of ns, or with a unit, e.g. 200us; 0 turns the timer off."`
	ThreadedNapi      *bool        `yaml:"threadedNapi" doc:"Poll the device's NAPI instances in kernel threads napi/<if>-<id> instead of softirq context (/sys/class/net/<if>/threaded). The kernel refuses it (EOPNOTSUPP) for a device that has no NAPI instance at the time."`
}

// NICMatch selects NICs. Every field given must match.
type NICMatch struct {
	Name   string `yaml:"name" doc:"Interface name or shell glob (eth*, enp3s0f?)."`
	PCI    string `yaml:"pci" doc:"PCI address, full (0000:03:00.0) or short (03:00.0)."`
	Driver string `yaml:"driver" doc:"Kernel driver name (ixgbe, i40e, mlx5_core...)."`
	MAC    string `yaml:"mac" doc:"Permanent or current MAC address."`
}

// Rings is spec.nics[].rings.
type Rings struct {
	RX *int `yaml:"rx" min:"1" max:"4294967295"`
	TX *int `yaml:"tx" min:"1" max:"4294967295"`
}

// Channels is spec.nics[].channels.
type Channels struct {
	Combined *int `yaml:"combined" min:"0" max:"4294967295"`
	RX       *int `yaml:"rx" min:"0" max:"4294967295"`
	TX       *int `yaml:"tx" min:"0" max:"4294967295"`
	Other    *int `yaml:"other" min:"0" max:"4294967295"`
}

// Coalesce is spec.nics[].coalesce.
type Coalesce struct {
	AdaptiveRX *bool `yaml:"adaptiveRx"`
	AdaptiveTX *bool `yaml:"adaptiveTx"`
	RXUsecs    *int  `yaml:"rxUsecs" min:"0" max:"4294967295"`
	TXUsecs    *int  `yaml:"txUsecs" min:"0" max:"4294967295"`
	RXFrames   *int  `yaml:"rxFrames" min:"0" max:"4294967295"`
	TXFrames   *int  `yaml:"txFrames" min:"0" max:"4294967295"`
}

// RSS is spec.nics[].rss.
type RSS struct {
	Queues int `yaml:"queues" required:"true" min:"1" max:"4294967295" doc:"Spread the indirection table evenly over the first N rx queues."`
}

// NICIRQAffinity is spec.nics[].irqAffinity.
type NICIRQAffinity struct {
	Strategy        string     `yaml:"strategy" enum:"cpus,local" doc:"cpus: round-robin one IRQ per CPU of cpus; local: CPUs on the NIC's NUMA node. Default cpus when cpus is set, else local."`
	CPUs            cpuset.Set `yaml:"cpus" doc:"CPUs for the cpus strategy."`
	IncludeIsolated bool       `yaml:"includeIsolated" doc:"Let the local strategy use isolated CPUs."`
}

// QueueCPUs is spec.nics[].rps and spec.nics[].xps.
type QueueCPUs struct {
	CPUs   cpuset.Set `yaml:"cpus" required:"true" doc:"CPU list."`
	Spread bool       `yaml:"spread" doc:"Give each queue one CPU of the list, round-robin, instead of the whole list."`
}

// RFS is spec.nics[].rfs.
type RFS struct {
	FlowEntries int `yaml:"flowEntries" required:"true" min:"0" max:"536870912" doc:"net.core.rps_sock_flow_entries (the kernel takes at most 2^29); each rx queue gets flowEntries/queues in rps_flow_cnt."`
}

// IRQBalance is spec.irqbalance.
type IRQBalance struct {
	Mode            string     `yaml:"mode" enum:"ban,ban-isolated,stop,ignore" doc:"ban: keep irqbalance off the CPUs nettune pins (IRQBALANCE_BANNED_CPULIST); ban-isolated: keep it off the isolated CPUs only (spec.cpu.isolated, so a profile that extends this one and isolates other CPUs bans those); stop: stop and disable irqbalance; ignore: leave it alone."`
	BannedCPUs      cpuset.Set `yaml:"bannedCPUs" doc:"CPUs to ban; default: the isolated CPUs and every CPU a NIC IRQ is pinned to."`
	DefaultAffinity cpuset.Set `yaml:"defaultAffinity" doc:"Affinity for new IRQs (/proc/irq/default_smp_affinity)."`
}

// Device is one entry of spec.devices.
type Device struct {
	PCI    string `yaml:"pci" required:"true" doc:"PCI address, or a kernel interface name that is resolved to one."`
	Driver string `yaml:"driver" required:"true" doc:"vfio-pci, uio_pci_generic or a kernel driver."`
	UID    *int   `yaml:"uid" min:"0" max:"4294967294" doc:"Owner of /dev/vfio/<group> for a non-root DPDK user."`
	GID    *int   `yaml:"gid" min:"0" max:"4294967294" doc:"Group of /dev/vfio/<group>."`
	// UnsafeNoIOMMU allows vfio's no-IOMMU mode.
	UnsafeNoIOMMU bool `yaml:"unsafeNoIOMMU" doc:"On a host without IOMMU, bind vfio-pci in vfio's unsafe no-IOMMU mode (no DMA isolation, taints the kernel). Refused otherwise."`
}

// Dataplane is spec.dataplane.
type Dataplane struct {
	Ports         []DataplanePort `yaml:"ports" required:"true" doc:"DPDK ports."`
	Pairs         [][]string      `yaml:"pairs" doc:"Pairs of port names to forward between, both ways. Default: ports in order, two by two."`
	Mode          string          `yaml:"mode" enum:"io,mac" doc:"io: forward untouched; mac: rewrite source and destination MAC like l2fwd."`
	Lcores        cpuset.Set      `yaml:"lcores" doc:"Worker CPUs; default: the isolated CPUs on each port's NUMA node."`
	RXDescriptors int             `yaml:"rxDescriptors" min:"0" max:"65536"`
	TXDescriptors int             `yaml:"txDescriptors" min:"0" max:"65536"`
	Burst         int             `yaml:"burst" min:"0" max:"512"`
	NoHuge        bool            `yaml:"noHuge" doc:"Run without hugepages (tests)."`
	MemoryMB      int             `yaml:"memoryMB" min:"0" max:"16777216" doc:"Memory to preallocate (EAL -m)."`
	TxFirst       bool            `yaml:"txFirst" doc:"Send one burst on every port at start so traffic circulates on looped links."`
	EALArgs       []string        `yaml:"ealArgs" doc:"Extra EAL arguments."`
	MTU           int             `yaml:"mtu" min:"0" max:"65509" doc:"MTU set on every port, e.g. 9000 for jumbo frames; 0 keeps the devices' default (1500)."`
	RTPriority    int             `yaml:"rtPriority" min:"0" max:"99" doc:"Run the workers SCHED_FIFO at this priority (1-99); 0 leaves them SCHED_OTHER. Set kernel.sched_rt_runtime_us to -1, or RT throttling pauses them."`
	MbufDataSize  int             `yaml:"mbufDataSize" min:"0" max:"65535" doc:"Data room of each mbuf in bytes, the 128-byte headroom included; 0 means 2176 (frames up to 2048 bytes). Longer frames arrive in mbuf chains (rx scatter), which the port must offer."`
}

// DataplanePort is one entry of spec.dataplane.ports.
type DataplanePort struct {
	Name    string `yaml:"name" required:"true"`
	PCI     string `yaml:"pci" doc:"PCI device bound by spec.devices."`
	Vdev    string `yaml:"vdev" doc:"A DPDK virtual device: net_null0, net_ring0, net_af_packet0,iface=veth0, net_af_xdp0,iface=veth0, net_tap0."`
	PeerMAC string `yaml:"peerMAC" doc:"Destination MAC in mac mode."`
}
