// Uniformity measures of point sets in the unit cube: how evenly a sampler covers the space.
#ifndef NEXTBATCH_SCENARIOS_DISCREPANCY_H_
#define NEXTBATCH_SCENARIOS_DISCREPANCY_H_

#include <vector>

namespace nextbatch {

// L2-star discrepancy by Warnock's closed form (O(N^2 d)): the root mean square over anchored
// boxes [0, t) of (fraction of points in the box - its volume). For N independent uniform points
// its expected square is (2^-d - 3^-d) / N.
double L2StarDiscrepancy(const std::vector<std::vector<double>>& points);

// Exact star discrepancy D* (the supremum over anchored boxes) of a 2-D point set, evaluated on
// the grid of point coordinates (O(N^2 log N)).
double StarDiscrepancy2D(const std::vector<std::vector<double>>& points);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_DISCREPANCY_H_
