//go:build cgo && !nodpdk

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <rte_common.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "fwd.h"

// One stream: receive on (rx_port, rx_queue), send on (tx_port, tx_queue).
struct nt_stream {
	uint16_t rx_port, rx_queue, tx_port, tx_queue;
	uint8_t hdr[12]; // destination then source MAC, for mac mode and tx_first
	struct rte_mempool *gen_pool;
};

struct nt_worker {
	unsigned lcore;
	int mode;
	uint16_t burst;
	uint16_t nb_streams;
	int tx_first;
	int rt_prio;	// SCHED_FIFO priority, 0: leave the policy alone
	int sched_ret;	// pthread_setschedparam's result, once sched_done
	int sched_done;
	struct nt_stream streams[NT_MAX_STREAMS];
	// Counters start on their own cache line: single writer (the worker),
	// read by the control side with relaxed loads.
	struct nt_ctr ctr[NT_MAX_STREAMS] __rte_cache_aligned;
} __rte_cache_aligned;

// The stop flag, on its own cache line: written once by the control side,
// read once per loop by every worker.
static struct {
	uint32_t stop;
} __rte_cache_aligned nt_flag;

int nt_eal_init(int argc, char **argv) { return rte_eal_init(argc, argv); }
int nt_errno(void) { return rte_errno; }
const char *nt_strerror(int err) { return rte_strerror(err); }
unsigned nt_lcore_count(void) { return rte_lcore_count(); }
unsigned nt_lcore_socket(unsigned lcore) { return rte_lcore_to_socket_id(lcore); }
const char *nt_runtime_dir(void) { return rte_eal_get_runtime_dir(); }
int nt_eal_cleanup(void) { return rte_eal_cleanup(); }

// nt_port_by_name finds a port by its ethdev name or, failing that, by the
// name of its device (a vdev such as net_ring0,nodeaction=r0:0:CREATE names
// its port r0).
int nt_port_by_name(const char *name, uint16_t *port)
{
	uint16_t p;
	if (rte_eth_dev_get_port_by_name(name, port) == 0)
		return 0;
	RTE_ETH_FOREACH_DEV(p)
	{
		struct rte_eth_dev_info info;
		if (rte_eth_dev_info_get(p, &info) == 0 && info.device != NULL &&
		    strcmp(rte_dev_name(info.device), name) == 0) {
			*port = p;
			return 0;
		}
	}
	return -ENODEV;
}

int nt_port_info(uint16_t port, struct nt_port_info *out)
{
	struct rte_eth_dev_info info;
	int ret = rte_eth_dev_info_get(port, &info);
	if (ret != 0)
		return ret;
	out->socket = rte_eth_dev_socket_id(port);
	out->max_rxq = info.max_rx_queues;
	out->max_txq = info.max_tx_queues;
	out->fast_free = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE) != 0;
	out->rss = info.flow_type_rss_offloads != 0;
	out->scatter = (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) != 0;
	out->min_mtu = info.min_mtu;
	out->max_mtu = info.max_mtu;
	out->max_rx_pktlen = info.max_rx_pktlen;
	snprintf(out->driver, sizeof(out->driver), "%s", info.driver_name ? info.driver_name : "");
	return 0;
}

struct rte_mempool *nt_pool_create(const char *name, unsigned n, unsigned cache, int socket,
				   uint16_t data_room)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create(name, n, cache, 0, data_room, socket);
	if (mp == NULL && socket != SOCKET_ID_ANY && rte_errno == ENOMEM)
		// A node without memory of its own (e.g. --no-huge puts all
		// memory on node 0): take memory from any node.
		mp = rte_pktmbuf_pool_create(name, n, cache, 0, data_room, SOCKET_ID_ANY);
	return mp;
}

void nt_pool_free(struct rte_mempool *mp) { rte_mempool_free(mp); }

int nt_port_setup(uint16_t port, uint16_t nq, uint16_t *nrxd, uint16_t *ntxd, int socket,
		  struct rte_mempool *pool, int fast_free, int rss, uint16_t mtu, int scatter,
		  const char **stage)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	struct rte_eth_rxconf rxconf;
	struct rte_eth_txconf txconf;
	int ret;
	uint16_t q;

	memset(&conf, 0, sizeof(conf));
	*stage = "get device info";
	ret = rte_eth_dev_info_get(port, &info);
	if (ret != 0)
		return ret;
	if (nq > 1 && rss) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf == 0)
			conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads;
	}
	if (fast_free && (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE))
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	if (mtu != 0)
		conf.rxmode.mtu = mtu;
	if (scatter) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
		if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
			conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	}
	*stage = "configure";
	ret = rte_eth_dev_configure(port, nq, nq, &conf);
	if (ret != 0)
		return ret;
	*stage = "adjust descriptor counts";
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, nrxd, ntxd);
	if (ret != 0)
		return ret;
	rxconf = info.default_rxconf;
	rxconf.offloads = conf.rxmode.offloads;
	txconf = info.default_txconf;
	txconf.offloads = conf.txmode.offloads;
	for (q = 0; q < nq; q++) {
		*stage = "set up rx queue";
		ret = rte_eth_rx_queue_setup(port, q, *nrxd, socket, &rxconf, pool);
		if (ret != 0)
			return ret;
		*stage = "set up tx queue";
		ret = rte_eth_tx_queue_setup(port, q, *ntxd, socket, &txconf);
		if (ret != 0)
			return ret;
	}
	*stage = "start";
	return rte_eth_dev_start(port);
}

int nt_promisc(uint16_t port) { return rte_eth_promiscuous_enable(port); }

int nt_port_mtu(uint16_t port, uint16_t *mtu) { return rte_eth_dev_get_mtu(port, mtu); }

int nt_link(uint16_t port, int *up, uint32_t *speed)
{
	struct rte_eth_link link;
	int ret;
	memset(&link, 0, sizeof(link));
	ret = rte_eth_link_get_nowait(port, &link);
	if (ret != 0)
		return ret;
	*up = link.link_status == RTE_ETH_LINK_UP;
	*speed = link.link_speed;
	return 0;
}

int nt_mac(uint16_t port, uint8_t *out)
{
	struct rte_ether_addr a;
	int ret = rte_eth_macaddr_get(port, &a);
	if (ret == 0)
		memcpy(out, a.addr_bytes, RTE_ETHER_ADDR_LEN);
	return ret;
}

int nt_port_stats(uint16_t port, uint64_t *out)
{
	struct rte_eth_stats st;
	int ret = rte_eth_stats_get(port, &st);
	if (ret != 0)
		return ret;
	out[0] = st.ipackets;
	out[1] = st.opackets;
	out[2] = st.ibytes;
	out[3] = st.obytes;
	out[4] = st.imissed;
	out[5] = st.ierrors;
	out[6] = st.oerrors;
	out[7] = st.rx_nombuf;
	return 0;
}

void nt_port_close(uint16_t port)
{
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
}

struct nt_worker *nt_worker_new(unsigned lcore, int mode, uint16_t burst, int tx_first,
				int rt_prio)
{
	struct nt_worker *w = rte_zmalloc_socket("nettune_worker", sizeof(*w), RTE_CACHE_LINE_SIZE,
						 rte_lcore_to_socket_id(lcore));
	if (w == NULL)
		w = rte_zmalloc("nettune_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);
	if (w == NULL)
		return NULL;
	w->lcore = lcore;
	w->mode = mode;
	w->burst = burst > NT_MAX_BURST ? NT_MAX_BURST : burst;
	w->tx_first = tx_first;
	w->rt_prio = rt_prio;
	return w;
}

int nt_worker_add(struct nt_worker *w, uint16_t rx_port, uint16_t rx_queue, uint16_t tx_port,
		  uint16_t tx_queue, const uint8_t *hdr, struct rte_mempool *gen_pool)
{
	struct nt_stream *s;
	if (w->nb_streams >= NT_MAX_STREAMS)
		return -ENOSPC;
	s = &w->streams[w->nb_streams++];
	s->rx_port = rx_port;
	s->rx_queue = rx_queue;
	s->tx_port = tx_port;
	s->tx_queue = tx_queue;
	memcpy(s->hdr, hdr, sizeof(s->hdr));
	s->gen_pool = gen_pool;
	return 0;
}

void nt_worker_read(const struct nt_worker *w, struct nt_ctr *out)
{
	uint16_t i;
	for (i = 0; i < w->nb_streams; i++) {
		out[i].rx = __atomic_load_n(&w->ctr[i].rx, __ATOMIC_RELAXED);
		out[i].tx = __atomic_load_n(&w->ctr[i].tx, __ATOMIC_RELAXED);
		out[i].dropped = __atomic_load_n(&w->ctr[i].dropped, __ATOMIC_RELAXED);
		out[i].generated = __atomic_load_n(&w->ctr[i].generated, __ATOMIC_RELAXED);
	}
}

void nt_worker_free(struct nt_worker *w) { rte_free(w); }

void nt_set_stop(int stop) { __atomic_store_n(&nt_flag.stop, stop, __ATOMIC_RELAXED); }

void nt_wait_workers(void) { rte_eal_mp_wait_lcore(); }

// How many packets ahead mac mode prefetches packet data.
#ifndef NT_PREFETCH
#define NT_PREFETCH 4
#endif

// Single-writer counter update: a plain add the reader sees untorn.
#define NT_ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)

// nt_tx_first sends one burst of generated 60-byte frames (ethertype
// 0x88b5, local experimental) on each stream's tx port.
static void nt_tx_first(struct nt_worker *w)
{
	struct rte_mbuf *pkts[NT_MAX_BURST];
	uint16_t i, j, n, sent;

	for (i = 0; i < w->nb_streams; i++) {
		struct nt_stream *s = &w->streams[i];
		n = w->burst;
		if (rte_pktmbuf_alloc_bulk(s->gen_pool, pkts, n) != 0)
			continue;
		for (j = 0; j < n; j++) {
			uint8_t *d = rte_pktmbuf_mtod(pkts[j], uint8_t *);
			memset(d, 0, 60);
			memcpy(d, s->hdr, 12);
			d[12] = 0x88;
			d[13] = 0xb5;
			pkts[j]->data_len = 60;
			pkts[j]->pkt_len = 60;
		}
		sent = rte_eth_tx_burst(s->tx_port, s->tx_queue, pkts, n);
		if (sent < n)
			rte_pktmbuf_free_bulk(&pkts[sent], n - sent);
		NT_ADD(w->ctr[i].generated, sent);
	}
}

static __rte_always_inline void nt_fwd(const struct nt_stream *s, struct nt_ctr *c,
					   const uint16_t burst, const int mac)
{
	struct rte_mbuf *pkts[NT_MAX_BURST];
	uint16_t nb_rx, nb_tx, i;

	nb_rx = rte_eth_rx_burst(s->rx_port, s->rx_queue, pkts, burst);
	if (unlikely(nb_rx == 0))
		return;
	if (mac) {
		// The new addresses, loaded once: stores through packet
		// pointers may alias s, so the compiler would reload it.
		uint64_t a0;
		uint32_t a1;
		memcpy(&a0, s->hdr, 8);
		memcpy(&a1, s->hdr + 8, 4);
		for (i = 0; i < nb_rx && i < NT_PREFETCH; i++)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
		for (i = 0; i < nb_rx; i++) {
			uint8_t *d;
			if (i + NT_PREFETCH < nb_rx)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + NT_PREFETCH], void *));
			d = rte_pktmbuf_mtod(pkts[i], uint8_t *);
			memcpy(d, &a0, 8);
			memcpy(d + 8, &a1, 4);
		}
	}
	nb_tx = rte_eth_tx_burst(s->tx_port, s->tx_queue, pkts, nb_rx);
	NT_ADD(c->rx, nb_rx);
	NT_ADD(c->tx, nb_tx);
	if (unlikely(nb_tx < nb_rx)) {
		NT_ADD(c->dropped, nb_rx - nb_tx);
		rte_pktmbuf_free_bulk(&pkts[nb_tx], nb_rx - nb_tx);
	}
}

static __rte_always_inline void nt_loop(struct nt_worker *w, const int mac)
{
	const uint16_t n = w->nb_streams, burst = w->burst;
	uint16_t i;

	while (likely(!__atomic_load_n(&nt_flag.stop, __ATOMIC_RELAXED)))
		for (i = 0; i < n; i++)
			nt_fwd(&w->streams[i], &w->ctr[i], burst, mac);
}

static __rte_noinline void nt_loop_io(struct nt_worker *w) { nt_loop(w, 0); }
static __rte_noinline void nt_loop_mac(struct nt_worker *w) { nt_loop(w, 1); }

int nt_worker_sched(const struct nt_worker *w, int *ret)
{
	if (!__atomic_load_n(&w->sched_done, __ATOMIC_ACQUIRE))
		return 0;
	*ret = w->sched_ret;
	return 1;
}

static int nt_worker_main(void *arg)
{
	struct nt_worker *w = arg;
	if (w->rt_prio > 0) {
		struct sched_param sp;
		memset(&sp, 0, sizeof(sp));
		sp.sched_priority = w->rt_prio;
		w->sched_ret = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	}
	__atomic_store_n(&w->sched_done, 1, __ATOMIC_RELEASE);
	if (w->tx_first)
		nt_tx_first(w);
	if (w->mode == NT_MODE_MAC)
		nt_loop_mac(w);
	else
		nt_loop_io(w);
	return 0;
}

int nt_worker_launch(struct nt_worker *w) { return rte_eal_remote_launch(nt_worker_main, w, w->lcore); }
