// Expected information gain about the parameters: how much a candidate's episodes would shrink
// the posterior, gain = log det(P + I) - log det(P) for the current precision P and the
// candidate's information I (nats; half of it is the expected Kullback-Leibler divergence of a
// linear-Gaussian update, the determinant being that of the covariance ratio).
//
// Stability: the gain is log det(Id + L^-1 I L^-T) with P = L L^T, summed over the pivots of an
// LDLT of a matrix whose eigenvalues are all >= 1, never the difference of two large log-dets.
// A P that is not positive definite (a parameter with neither prior nor data) is regularised by
// a ridge: P + lambda Id with lambda = ridge * (mean diagonal of P, or 1 when that is 0).
#ifndef NEXTBATCH_PLANNERS_INFORMATION_H_
#define NEXTBATCH_PLANNERS_INFORMATION_H_

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <string>
#include <vector>

#include "planners/gain.h"

namespace nextbatch {

struct InformationOptions {
  double ridge = 1e-9;  // relative ridge for a precision that is not positive definite

  // Empty when valid, else "information.field: expected X, got Y".
  std::string Validate() const;
};

// P itself when it is positive definite, else P + lambda Id (see above). `ridged` says which.
Eigen::MatrixXd Regularised(const Eigen::MatrixXd& precision, double ridge, bool* ridged = nullptr);

// log det(P + I) - log det(P) for symmetric P (regularised as stated) and symmetric PSD I.
double LogDetGain(const Eigen::MatrixXd& precision, const Eigen::MatrixXd& information,
                  const InformationOptions& options = {});

// Information of n repeats of one setup: each episode brings `single` (I1), but the setup's own
// deviation (between-episode covariance B, the floor repeats cannot average away) is shared:
// (B + (n I1)^-1)^-1, computed as n I1 (Id + n B I1)^-1 (symmetrised), which is also valid for a
// singular I1. With B = 0 it is n I1; as n grows it tends to B^-1 on the range of I1.
Eigen::MatrixXd RepeatedInformation(const Eigen::MatrixXd& single, const Eigen::MatrixXd& floor,
                                    int repeats);

// Which parameter a candidate mostly informs: the largest relative variance reduction
// 1 - [(P + I)^-1]_jj / [P^-1]_jj.
struct Informs {
  int parameter = -1;             // -1 when I reduces nothing
  std::vector<double> reduction;  // per parameter, in [0, 1]
};
Informs MostInformed(const Eigen::MatrixXd& precision, const Eigen::MatrixXd& information,
                     const InformationOptions& options = {});

// Standard deviations of the posterior with precision P (regularised as stated).
Eigen::VectorXd PosteriorStd(const Eigen::MatrixXd& precision,
                             const InformationOptions& options = {});

// Information gain as a batch gain: the batch holds n_i episodes of each item i; its precision is
// P + sum_i RepeatedInformation(I_i, B, n_i). Monotone, and diminishing both across items
// (log det is concave) and across repeats of one item (the repeats' information is concave in n),
// so the lazy selector stays exact.
class InformationGain : public GainFunction {
 public:
  // `single[i]` is item i's single-episode information; `floor` the between-episode covariance B.
  InformationGain(const Eigen::MatrixXd& precision, std::vector<Eigen::MatrixXd> single,
                  const Eigen::MatrixXd& floor, const InformationOptions& options = {});
  int size() const override { return static_cast<int>(single_.size()); }
  double Gain(int item) const override;
  void Commit(int item) override;
  void Reset() override;

  const Eigen::MatrixXd& precision() const { return current_; }  // the batch's posterior precision
  int repeats(int item) const { return repeats_[item]; }

 private:
  Eigen::MatrixXd Increment(int item) const;  // information of episode n_i + 1 of item i

  Eigen::MatrixXd prior_;
  std::vector<Eigen::MatrixXd> single_;
  Eigen::MatrixXd floor_;
  std::vector<int> repeats_;
  Eigen::MatrixXd current_;
  Eigen::LLT<Eigen::MatrixXd> factor_;  // of current_
};

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_INFORMATION_H_
