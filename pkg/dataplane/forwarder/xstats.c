//go:build cgo && !nodpdk

// Extended statistics (rte_eth_xstats): the driver's own counters, per
// queue where the PMD (or ethdev's autofill) has them.
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>

#include "fwd.h"

int nt_xstats_count(uint16_t port) { return rte_eth_xstats_get_names(port, NULL, 0); }

int nt_xstats_names(uint16_t port, char *names, int n)
{
	// struct rte_eth_xstat_name is a char[RTE_ETH_XSTATS_NAME_SIZE].
	return rte_eth_xstats_get_names(port, (struct rte_eth_xstat_name *)names, n);
}

int nt_xstats_values(uint16_t port, uint64_t *values, int n)
{
	struct rte_eth_xstat *x = malloc(sizeof(*x) * (n > 0 ? n : 1));
	int i, got;
	if (x == NULL)
		return -ENOMEM;
	got = rte_eth_xstats_get(port, x, n);
	if (got > n) // the driver grew its list: read again later
		got = -ENOSPC;
	for (i = 0; i < got; i++)
		if (x[i].id < (uint64_t)n)
			values[x[i].id] = x[i].value;
	free(x);
	return got;
}
