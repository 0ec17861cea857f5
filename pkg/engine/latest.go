package engine

import "github.com/nettune/nettune/pkg/host"

// LatestGeneration returns the number of the newest generation in the
// journal, 0 when there is none. It lists the journal's files without
// reading them (the exporter calls it at every scrape).
func LatestGeneration(r *host.Root) (int, error) {
	nums, err := listGenerations(r)
	if err != nil || len(nums) == 0 {
		return 0, err
	}
	return nums[len(nums)-1], nil
}
