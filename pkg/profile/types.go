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
	SRIOV      []SRIOV                `yaml:"sriov" doc:"SR-IOV virtual functions per physical function (sriov_numvfs) and each VF's MAC, VLAN, trust, spoof check, link state and rate through the PF's netlink (ip link set PF vf N). Applied before spec.devices, so that VFs exist before they are bound."`
}

// CPU is spec.cpu.
type CPU struct {
	Isolated      cpuset.Set  `yaml:"isolated" doc:"CPUs taken away from the scheduler and kernel housekeeping (isolcpus=)."`
	Housekeeping  cpuset.Set  `yaml:"housekeeping" doc:"CPUs that keep kernel work and IRQs; default: every online CPU that is not isolated."`
	NohzFull      *bool       `yaml:"nohzFull" doc:"Stop the scheduler tick on isolated CPUs (nohz_full=). Default true when CPUs are isolated."`
	RcuNocbs      *bool       `yaml:"rcuNocbs" doc:"Offload RCU callbacks from isolated CPUs (rcu_nocbs=). Default true when CPUs are isolated."`
	IsolcpusFlags []string    `yaml:"isolcpusFlags" enum:"managed_irq,domain,nohz" doc:"Flags for isolcpus=; default [managed_irq, domain]."`
	IRQAffinity   *bool       `yaml:"irqAffinity" doc:"Set irqaffinity= to the housekeeping CPUs. Default true when CPUs are isolated."`
	AllowCPU0     bool        `yaml:"allowIsolatingCPU0" doc:"Permit isolating CPU 0, which normally stays housekeeping."`
	KernelArgs    []string    `yaml:"kernelArgs" doc:"Further kernel arguments nettune owns, for example skew_tick=1, iommu=pt, intel_iommu=on."`
	Power         *Power      `yaml:"power" doc:"Power management for latency."`
	Preset        string      `yaml:"preset" enum:"nto" doc:"nto: render the isolation boot arguments the OpenShift Node Tuning Operator renders for the same reserved/isolated split (docs/cpu.md)."`
	Runtime       *CPURuntime `yaml:"runtime" doc:"Runtime isolation the boot arguments cannot do: unbound workqueues, writeback, timer migration, watchdogs (set live, module housekeeping)."`
}

// CPURuntime is spec.cpu.runtime.
type CPURuntime struct {
	Workqueues      bool   `yaml:"workqueues" doc:"Put unbound workqueues and the writeback workqueue on the housekeeping CPUs (/sys/devices/virtual/workqueue/cpumask, /sys/bus/workqueue/devices/writeback/cpumask)."`
	TimerMigration  *bool  `yaml:"timerMigration" doc:"kernel.timer_migration: false keeps timers on the CPU that armed them instead of moving them to busy CPUs."`
	Watchdog        string `yaml:"watchdog" enum:"housekeeping,off" doc:"housekeeping: run the soft/hard lockup watchdogs only on the housekeeping CPUs (kernel.watchdog_cpumask); off: also stop the NMI watchdog (kernel.nmi_watchdog=0)."`
	KthreadPriority *int   `yaml:"kthreadPriority" min:"1" max:"99" doc:"SCHED_FIFO priority for the per-CPU kthreads ksoftirqd/N, rcuc/N and ktimers/N of the isolated CPUs (sched_setattr), so softirq and RCU work preempts a busy-polling task there; the NTO uses 11."`
}

// Power is spec.cpu.power.
type Power struct {
	Governor    string `yaml:"governor" enum:"performance,powersave,schedutil,ondemand,conservative,userspace" doc:"cpufreq governor set at runtime on the isolated CPUs (all CPUs when none are isolated)."`
	MaxCState   *int   `yaml:"maxCState" min:"0" max:"10" doc:"Deepest C-state allowed: intel_idle.max_cstate= and processor.max_cstate= (boot)."`
	IdlePoll    bool   `yaml:"idlePoll" doc:"idle=poll (boot): never enter a C-state; burns power for the lowest wake-up latency."`
	IntelPstate string `yaml:"intelPstate" enum:"active,passive,disable" doc:"intel_pstate= (boot)."`
	AmdPstate   string `yaml:"amdPstate" enum:"active,passive,guided" doc:"amd_pstate operating mode, set live (/sys/devices/system/cpu/amd_pstate/status)."`
	DMALatency  *int   `yaml:"cpuDmaLatency" min:"0" max:"2000000000" doc:"PM QoS CPU latency limit in microseconds, held on /dev/cpu_dma_latency while nettune run runs the forwarder (0: no C-state exits)."`
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
	NTuple      []NTupleRule    `yaml:"ntuple" doc:"Flow steering rules (ethtool -N flow-type …; ETHTOOL_SRXCLSRLINS). Turns rx-ntuple-filter on while they are in place."`
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
	Queues int `yaml:"queues" min:"1" max:"4294967295" doc:"Spread the indirection table evenly over N rx queues, from startQueue (ethtool -X equal N)."`
	// The fields below are the rest of ethtool -X and -N rx-flow-hash
	// (steering.go validates them).
	Weights      []int             `yaml:"weights" doc:"Spread the indirection table over queues startQueue, startQueue+1, … in proportion to these weights (ethtool -X weight …; ETHTOOL_SRXFHINDIR). Exclusive with queues."`
	StartQueue   int               `yaml:"startQueue" min:"0" max:"4294967295" doc:"First queue of queues or weights (ethtool -X … start N)."`
	HashKey      string            `yaml:"hashKey" doc:"RSS hash key as colon-separated hex bytes, of the NIC's key size (ethtool -X hkey; ETHTOOL_SRSSH)."`
	HashFunction string            `yaml:"hashFunction" enum:"toeplitz,xor,crc32" doc:"RSS hash function (ethtool -X hfunc; ETHTOOL_SRSSH); the driver refuses one it does not offer."`
	FlowHash     map[string]string `yaml:"flowHash" doc:"Header fields hashed per flow type, ethtool's letters: tcp4/udp4/tcp6/udp6 → e.g. sdfn (ethtool -N IF rx-flow-hash udp4 sdfn; ETHTOOL_SRXFH)."`
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
	PCI    string `yaml:"pci" doc:"PCI address, or a kernel interface name that is resolved to one. Give either pci, or pf and vf."`
	PF     string `yaml:"pf" doc:"With vf: the SR-IOV physical function (PCI address) whose virtual function is bound; resolved through /sys/bus/pci/devices/PF/virtfnN, so it may name a VF that spec.sriov creates in the same apply."`
	VF     *int   `yaml:"vf" min:"0" max:"65534" doc:"With pf: the index N of the virtual function (virtfnN)."`
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
	PF      string `yaml:"pf" doc:"With vf: an SR-IOV VF as the port, named by its PF's PCI address (resolved through /sys/bus/pci/devices/PF/virtfnN when the forwarder starts)."`
	VF      *int   `yaml:"vf" min:"0" max:"65534" doc:"With pf: the VF's index."`
	Vdev    string `yaml:"vdev" doc:"A DPDK virtual device: net_null0, net_ring0, net_af_packet0,iface=veth0, net_af_xdp0,iface=veth0, net_tap0."`
	PeerMAC string `yaml:"peerMAC" doc:"Destination MAC in mac mode."`
}

// NTupleRule is one entry of spec.nics[].ntuple: an ethtool -N rule.
type NTupleRule struct {
	FlowType string `yaml:"flowType" required:"true" enum:"tcp4,udp4,tcp6,udp6,ether" doc:"flow-type of ethtool -N."`
	Src      string `yaml:"src" doc:"Source IP address, optionally /prefix for a mask (IP flow types); source MAC address (ether)."`
	Dst      string `yaml:"dst" doc:"Destination IP address, optionally /prefix; destination MAC address (ether)."`
	SrcPort  *int   `yaml:"srcPort" min:"0" max:"65535" doc:"Source port (tcp/udp flow types)."`
	DstPort  *int   `yaml:"dstPort" min:"0" max:"65535" doc:"Destination port (tcp/udp flow types)."`
	VLAN     *int   `yaml:"vlan" min:"0" max:"4095" doc:"VLAN ID (the 12 VID bits of the tag)."`
	Queue    *int   `yaml:"queue" min:"0" max:"4294967295" doc:"Receive queue for matching packets (action N). One of queue or drop."`
	Drop     bool   `yaml:"drop" doc:"Drop matching packets (action -1)."`
	Location *int   `yaml:"location" min:"0" max:"2147483647" doc:"Index in the NIC's rule table (loc N); default: the lowest free one, or the driver's choice when it picks locations itself."`
}

// SRIOV is one entry of spec.sriov: one physical function.
type SRIOV struct {
	PF               string    `yaml:"pf" required:"true" doc:"The physical function: PCI address (0000:00:04.0) or its interface name."`
	NumVFs           int       `yaml:"numVFs" required:"true" min:"0" max:"65535" doc:"Number of VFs (/sys/bus/pci/devices/PF/sriov_numvfs), at most sriov_totalvfs. The kernel refuses to change a non-zero count to another non-zero one (EBUSY): nettune goes through 0, which destroys and recreates every VF, and refuses that while a VF is in use."`
	DriversAutoprobe *bool     `yaml:"driversAutoprobe" doc:"Whether new VFs are bound to their kernel driver (igbvf, iavf, mlx5_core) when created (sriov_drivers_autoprobe). false leaves them unbound for spec.devices to bind."`
	VFs              []SRIOVVF `yaml:"vfs" doc:"Per-VF settings, through netlink on the PF (IFLA_VF_*; ip link set PF vf N ...). They need the PF on a kernel driver with a network interface."`
}

// SRIOVVF is one entry of spec.sriov[].vfs.
type SRIOVVF struct {
	Index      int    `yaml:"index" required:"true" min:"0" max:"65534" doc:"VF index N (virtfnN), below numVFs."`
	MAC        string `yaml:"mac" doc:"The VF's MAC address (IFLA_VF_MAC; ip link set PF vf N mac)."`
	VLAN       *int   `yaml:"vlan" min:"0" max:"4095" doc:"Port VLAN the PF tags the VF's traffic with; 0 removes it (IFLA_VF_VLAN; ip link set PF vf N vlan)."`
	QoS        *int   `yaml:"qos" min:"0" max:"7" doc:"802.1p priority of the port VLAN; needs vlan (IFLA_VF_VLAN qos)."`
	Trust      *bool  `yaml:"trust" doc:"Trusted VF: may set promiscuous/multicast modes and change its MAC (IFLA_VF_TRUST; ip link set PF vf N trust)."`
	SpoofCheck *bool  `yaml:"spoofCheck" doc:"Drop frames the VF sends with a source MAC that is not its own (IFLA_VF_SPOOFCHK; ip link set PF vf N spoofchk)."`
	LinkState  string `yaml:"linkState" enum:"auto,enable,disable" doc:"The VF's link: follow the PF (auto), always up (enable), down (disable) (IFLA_VF_LINK_STATE; ip link set PF vf N state)."`
	MinTxRate  *int   `yaml:"minTxRateMbps" min:"0" max:"4294967295" doc:"Guaranteed transmit rate in Mbit/s, 0 for none (IFLA_VF_RATE min_tx_rate; ip link set PF vf N min_tx_rate)."`
	MaxTxRate  *int   `yaml:"maxTxRateMbps" min:"0" max:"4294967295" doc:"Transmit rate limit in Mbit/s, 0 for none (IFLA_VF_RATE max_tx_rate; ip link set PF vf N max_tx_rate)."`
}
