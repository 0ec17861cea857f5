//go:build cgo && !nodpdk

// The C half of the forwarder: worker loop and thin wrappers the Go
// control side calls on the EAL thread.
#ifndef NETTUNE_FWD_H
#define NETTUNE_FWD_H

#include <stdint.h>

#define NT_MAX_STREAMS 64
#define NT_MAX_BURST 512

enum { NT_MODE_IO = 0, NT_MODE_MAC = 1 };

struct rte_mempool;
struct nt_worker;

// Counters of one stream, written only by its worker.
struct nt_ctr {
	uint64_t rx, tx, dropped, generated;
};

struct nt_port_info {
	int socket;
	uint16_t max_rxq, max_txq;
	int fast_free; // RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE offered
	int rss;       // RSS hash functions offered
	int scatter;   // RTE_ETH_RX_OFFLOAD_SCATTER offered
	uint16_t min_mtu, max_mtu;
	uint32_t max_rx_pktlen;
	char driver[64];
};

int nt_eal_init(int argc, char **argv);
int nt_errno(void);
const char *nt_strerror(int err);
unsigned nt_lcore_count(void);
unsigned nt_lcore_socket(unsigned lcore);
const char *nt_runtime_dir(void);
int nt_eal_cleanup(void);

int nt_port_by_name(const char *name, uint16_t *port);
int nt_port_info(uint16_t port, struct nt_port_info *out);
struct rte_mempool *nt_pool_create(const char *name, unsigned n, unsigned cache, int socket,
				   uint16_t data_room);
void nt_pool_free(struct rte_mempool *mp);
// nt_port_setup configures and starts a port; on failure it returns a
// negative errno and sets *stage to what failed.
// mtu 0 keeps the device's; scatter enables rx scatter and multi-segment
// tx, for frames larger than an mbuf's data room.
int nt_port_setup(uint16_t port, uint16_t nq, uint16_t *nrxd, uint16_t *ntxd, int socket,
		  struct rte_mempool *pool, int fast_free, int rss, uint16_t mtu, int scatter,
		  const char **stage);
int nt_port_mtu(uint16_t port, uint16_t *mtu);
int nt_promisc(uint16_t port);
int nt_link(uint16_t port, int *up, uint32_t *speed);
int nt_mac(uint16_t port, uint8_t *out);
int nt_port_stats(uint16_t port, uint64_t *out); // 8 counters, see DeviceCounters
void nt_port_close(uint16_t port);

#define NT_XSTAT_NAME_SIZE 64 // RTE_ETH_XSTATS_NAME_SIZE
int nt_xstats_count(uint16_t port);
int nt_xstats_names(uint16_t port, char *names, int n); // n names of NT_XSTAT_NAME_SIZE
int nt_xstats_values(uint16_t port, uint64_t *values, int n);

struct nt_worker *nt_worker_new(unsigned lcore, int mode, uint16_t burst, int tx_first,
				int rt_prio);
// nt_worker_sched: 1 and *ret (0 or an errno) once the launched worker set
// its scheduling policy, 0 before.
int nt_worker_sched(const struct nt_worker *w, int *ret);
int nt_worker_add(struct nt_worker *w, uint16_t rx_port, uint16_t rx_queue, uint16_t tx_port,
		  uint16_t tx_queue, const uint8_t *hdr, struct rte_mempool *gen_pool);
int nt_worker_launch(struct nt_worker *w);
void nt_worker_read(const struct nt_worker *w, struct nt_ctr *out);
void nt_worker_free(struct nt_worker *w);
void nt_set_stop(int stop);
void nt_wait_workers(void);

#endif
