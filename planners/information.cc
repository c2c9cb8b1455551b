#include "planners/information.h"

#include <Eigen/LU>
#include <cmath>

#include "engine/error.h"

namespace nextbatch {

std::string InformationOptions::Validate() const {
  if (!(ridge > 0.0) || !(ridge < 1.0))
    return Expected("information.ridge", "a number in (0, 1)", FormatNumber(ridge));
  return "";
}

namespace {

void CheckSquare(const Eigen::MatrixXd& m, int n, const char* what) {
  if (m.rows() != n || m.cols() != n)
    ThrowExpected(std::string("information.") + what,
                  std::to_string(n) + " x " + std::to_string(n) + " matrix",
                  std::to_string(m.rows()) + " x " + std::to_string(m.cols()));
  if (!m.allFinite())
    ThrowExpected(std::string("information.") + what, "finite entries", "a NaN or infinity");
}

// log det of a symmetric matrix whose eigenvalues are >= 1 (so LDLT pivots are positive).
double LogDetAtLeastIdentity(const Eigen::MatrixXd& m) {
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(m);
  double sum = 0.0;
  for (int i = 0; i < m.rows(); ++i) sum += std::log(ldlt.vectorD()(i));
  return sum;
}

// log det(Id + L^-1 D L^-T) for the Cholesky factor of P.
double GainFromFactor(const Eigen::LLT<Eigen::MatrixXd>& factor, const Eigen::MatrixXd& d) {
  Eigen::MatrixXd w = factor.matrixL().solve(d);                 // L^-1 D
  w = factor.matrixL().solve(w.transpose()).transpose().eval();  // L^-1 D L^-T
  const Eigen::MatrixXd m =
      Eigen::MatrixXd::Identity(d.rows(), d.cols()) + 0.5 * (w + w.transpose());
  return LogDetAtLeastIdentity(m);
}

}  // namespace

Eigen::MatrixXd Regularised(const Eigen::MatrixXd& precision, double ridge, bool* ridged) {
  const Eigen::MatrixXd p = 0.5 * (precision + precision.transpose());
  const Eigen::LLT<Eigen::MatrixXd> llt(p);
  bool positive = llt.info() == Eigen::Success;
  if (positive) {
    // A Cholesky that succeeds on a numerically singular matrix leaves a tiny pivot behind.
    const Eigen::VectorXd diag = llt.matrixLLT().diagonal();
    positive = diag.minCoeff() > 1e-8 * diag.maxCoeff();
  }
  if (ridged) *ridged = !positive;
  if (positive) return p;
  const double mean = p.rows() > 0 ? p.diagonal().mean() : 0.0;
  const double lambda = ridge * (mean > 0.0 ? mean : 1.0);
  return p + lambda * Eigen::MatrixXd::Identity(p.rows(), p.cols());
}

double LogDetGain(const Eigen::MatrixXd& precision, const Eigen::MatrixXd& information,
                  const InformationOptions& options) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError(problem);
  const int n = static_cast<int>(precision.rows());
  CheckSquare(precision, n, "precision");
  CheckSquare(information, n, "information");
  const Eigen::LLT<Eigen::MatrixXd> factor(Regularised(precision, options.ridge));
  return GainFromFactor(factor, information);
}

Eigen::MatrixXd RepeatedInformation(const Eigen::MatrixXd& single, const Eigen::MatrixXd& floor,
                                    int repeats) {
  const int n = static_cast<int>(single.rows());
  CheckSquare(single, n, "single");
  CheckSquare(floor, n, "floor");
  if (repeats < 0) ThrowExpected("information.repeats", "an integer >= 0", std::to_string(repeats));
  const Eigen::MatrixXd total = static_cast<double>(repeats) * single;
  // n I1 (Id + n B I1)^-1: the transpose of (Id + n I1 B)^-1 n I1, a solve with a matrix whose
  // eigenvalues are >= 1 (those of a product of two PSD matrices are >= 0).
  const Eigen::MatrixXd a = Eigen::MatrixXd::Identity(n, n) + total * floor;
  const Eigen::MatrixXd x = a.partialPivLu().solve(total);  // (Id + n I1 B)^-1 n I1
  return 0.5 * (x + x.transpose());
}

Informs MostInformed(const Eigen::MatrixXd& precision, const Eigen::MatrixXd& information,
                     const InformationOptions& options) {
  const int n = static_cast<int>(precision.rows());
  CheckSquare(precision, n, "precision");
  CheckSquare(information, n, "information");
  const Eigen::MatrixXd p = Regularised(precision, options.ridge);
  const Eigen::MatrixXd before = p.llt().solve(Eigen::MatrixXd::Identity(n, n));
  const Eigen::MatrixXd sum = p + 0.5 * (information + information.transpose());
  const Eigen::MatrixXd after = sum.llt().solve(Eigen::MatrixXd::Identity(n, n));
  Informs out;
  double best = 0.0;
  for (int j = 0; j < n; ++j) {
    const double r = std::min(1.0, std::max(0.0, 1.0 - after(j, j) / before(j, j)));
    out.reduction.push_back(r);
    if (r > best) {
      best = r;
      out.parameter = j;
    }
  }
  return out;
}

Eigen::VectorXd PosteriorStd(const Eigen::MatrixXd& precision, const InformationOptions& options) {
  const int n = static_cast<int>(precision.rows());
  CheckSquare(precision, n, "precision");
  const Eigen::MatrixXd p = Regularised(precision, options.ridge);
  return p.llt().solve(Eigen::MatrixXd::Identity(n, n)).diagonal().cwiseSqrt();
}

InformationGain::InformationGain(const Eigen::MatrixXd& precision,
                                 std::vector<Eigen::MatrixXd> single, const Eigen::MatrixXd& floor,
                                 const InformationOptions& options)
    : single_(std::move(single)), floor_(floor) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError(problem);
  const int n = static_cast<int>(precision.rows());
  CheckSquare(precision, n, "precision");
  CheckSquare(floor, n, "floor");
  for (const Eigen::MatrixXd& s : single_) CheckSquare(s, n, "single");
  prior_ = Regularised(precision, options.ridge);
  Reset();
}

Eigen::MatrixXd InformationGain::Increment(int item) const {
  const int n = repeats_[item];
  return RepeatedInformation(single_[item], floor_, n + 1) -
         RepeatedInformation(single_[item], floor_, n);
}

double InformationGain::Gain(int item) const {
  return std::max(0.0, GainFromFactor(factor_, Increment(item)));
}

void InformationGain::Commit(int item) {
  current_ += Increment(item);
  current_ = 0.5 * (current_ + current_.transpose()).eval();
  ++repeats_[item];
  factor_.compute(current_);
}

void InformationGain::Reset() {
  repeats_.assign(single_.size(), 0);
  current_ = prior_;
  factor_.compute(current_);
}

}  // namespace nextbatch
