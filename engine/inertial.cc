#include "engine/inertial.h"

#include <Eigen/Eigenvalues>
#include <Eigen/Geometry>
#include <cmath>

#include "engine/error.h"

namespace nextbatch {
namespace {

// Row and column of the six inertia components (ixx iyy izz ixy ixz iyz).
constexpr int kRow[6] = {0, 1, 2, 0, 0, 1};
constexpr int kCol[6] = {0, 1, 2, 1, 2, 2};

Eigen::Matrix<double, 6, 1> Components(const Eigen::Matrix3d& m) {
  Eigen::Matrix<double, 6, 1> v;
  for (int k = 0; k < 6; ++k) v[k] = m(kRow[k], kCol[k]);
  return v;
}

// The upper-triangular factor A of theta (without e^alpha).
Eigen::Matrix3d Factor(const InertialVector& theta) {
  Eigen::Matrix3d a = Eigen::Matrix3d::Zero();
  a(0, 0) = std::exp(theta[1]);
  a(1, 1) = std::exp(theta[2]);
  a(2, 2) = std::exp(theta[3]);
  a(0, 1) = theta[4];
  a(1, 2) = theta[5];
  a(0, 2) = theta[6];
  return a;
}

// Inertia about the com from the second moment about it, and back (the map is its own form:
// Sigma = tr(I)/2 1 - I).
Eigen::Matrix3d InertiaOfMoment(const Eigen::Matrix3d& sigma) {
  return sigma.trace() * Eigen::Matrix3d::Identity() - sigma;
}

}  // namespace

InertialVector PhysicalInertial::Stacked() const {
  InertialVector v;
  v << mass, com, inertia;
  return v;
}

PhysicalInertial PhysicalInertial::FromStacked(const InertialVector& v) {
  PhysicalInertial p;
  p.mass = v[0];
  p.com = v.segment<3>(1);
  p.inertia = v.segment<6>(4);
  return p;
}

Eigen::Matrix3d PhysicalInertial::InertiaMatrix() const {
  Eigen::Matrix3d m;
  for (int k = 0; k < 6; ++k) m(kRow[k], kCol[k]) = m(kCol[k], kRow[k]) = inertia[k];
  return m;
}

const std::array<const char*, kInertialSize>& InertialCoordinateNames() {
  static const std::array<const char*, kInertialSize> names = {"alpha", "d1",  "d2", "d3", "s12",
                                                               "s23",   "s13", "t1", "t2", "t3"};
  return names;
}

const std::array<const char*, kInertialSize>& InertialQuantityNames() {
  static const std::array<const char*, kInertialSize> names = {
      "mass", "com_x", "com_y", "com_z", "ixx", "iyy", "izz", "ixy", "ixz", "iyz"};
  return names;
}

std::string InertialProblem(const PhysicalInertial& p) {
  if (!p.Stacked().allFinite()) return "finite numbers";
  if (!(p.mass > 0)) return "a mass > 0, got " + FormatNumber(p.mass);
  const Eigen::Matrix3d inertia = p.InertiaMatrix();
  const Eigen::Matrix3d sigma = 0.5 * inertia.trace() * Eigen::Matrix3d::Identity() - inertia;
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(inertia);
  const Eigen::Vector3d moments = eig.eigenvalues();  // ascending
  // Positive definite second moment: the principal moments are positive and satisfy the
  // triangle inequalities strictly (I1 + I2 - I3 = 2 sigma3 for sorted moments).
  if (!(moments[0] > 0) || !(moments[0] + moments[1] > moments[2]) ||
      Eigen::LLT<Eigen::Matrix3d>(sigma).info() != Eigen::Success) {
    return "principal moments of inertia that are positive and satisfy the triangle inequality "
           "strictly (A + B > C), got " +
           FormatNumber(moments[0]) + ", " + FormatNumber(moments[1]) + ", " +
           FormatNumber(moments[2]);
  }
  return "";
}

InertialVector InertialToCoordinates(const PhysicalInertial& p, const std::string& where) {
  if (std::string problem = InertialProblem(p); !problem.empty()) {
    throw InputError(where + ": expected a physically consistent inertial: " + problem);
  }
  const Eigen::Matrix3d inertia = p.InertiaMatrix();
  const Eigen::Matrix3d m =
      (0.5 * inertia.trace() * Eigen::Matrix3d::Identity() - inertia) / p.mass;
  // m = A A^T with A upper triangular: an upper-lower Cholesky factorisation, last column first.
  const double a22 = std::sqrt(m(2, 2));
  const double a12 = m(1, 2) / a22;
  const double a02 = m(0, 2) / a22;
  const double r11 = m(1, 1) - a12 * a12;
  const double a11 = std::sqrt(r11);
  const double a01 = (m(0, 1) - a02 * a12) / a11;
  const double r00 = m(0, 0) - a01 * a01 - a02 * a02;
  if (!(r11 > 0) || !(r00 > 0)) {
    throw InputError(where +
                     ": expected a physically consistent inertial: a second moment "
                     "that is positive definite to double precision");
  }
  const double a00 = std::sqrt(r00);
  InertialVector theta;
  theta << 0.5 * std::log(p.mass), std::log(a00), std::log(a11), std::log(a22), a01, a12, a02,
      p.com;
  return theta;
}

PhysicalInertial InertialFromCoordinates(const InertialVector& theta) {
  PhysicalInertial p;
  p.mass = std::exp(2 * theta[0]);
  p.com = theta.segment<3>(7);
  const Eigen::Matrix3d a = Factor(theta);
  p.inertia = Components(InertiaOfMoment(p.mass * a * a.transpose()));
  return p;
}

InertialMatrix InertialJacobian(const InertialVector& theta) {
  InertialMatrix j = InertialMatrix::Zero();
  const double mass = std::exp(2 * theta[0]);
  const Eigen::Matrix3d a = Factor(theta);
  j(0, 0) = 2 * mass;
  j.block<3, 3>(1, 7).setIdentity();
  // d Sigma = m (dA A^T + A dA^T), and 2 Sigma for alpha; the inertia is linear in Sigma.
  const Eigen::Matrix3d sigma = mass * a * a.transpose();
  j.block<6, 1>(4, 0) = Components(InertiaOfMoment(2 * sigma));
  const int row[6] = {0, 1, 2, 0, 1, 0};  // the entry of A each of d1 d2 d3 s12 s23 s13 moves
  const int col[6] = {0, 1, 2, 1, 2, 2};
  for (int k = 0; k < 6; ++k) {
    Eigen::Matrix3d da = Eigen::Matrix3d::Zero();
    da(row[k], col[k]) = k < 3 ? a(k, k) : 1.0;
    const Eigen::Matrix3d ds = mass * (da * a.transpose() + a * da.transpose());
    j.block<6, 1>(4, 1 + k) = Components(InertiaOfMoment(ds));
  }
  return j;
}

void InertialToMujoco(const PhysicalInertial& p, double* mass, double ipos[3], double inertia[3],
                      double iquat[4]) {
  *mass = p.mass;
  for (int i = 0; i < 3; ++i) ipos[i] = p.com[i];
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(p.InertiaMatrix());
  Eigen::Matrix3d axes = eig.eigenvectors();
  if (axes.determinant() < 0) axes.col(2) = -axes.col(2);
  const Eigen::Quaterniond q(axes);
  for (int i = 0; i < 3; ++i) inertia[i] = eig.eigenvalues()[i];
  iquat[0] = q.w();
  iquat[1] = q.x();
  iquat[2] = q.y();
  iquat[3] = q.z();
}

PhysicalInertial InertialFromMujoco(double mass, const double ipos[3], const double inertia[3],
                                    const double iquat[4]) {
  PhysicalInertial p;
  p.mass = mass;
  p.com = Eigen::Vector3d(ipos[0], ipos[1], ipos[2]);
  const Eigen::Matrix3d r =
      Eigen::Quaterniond(iquat[0], iquat[1], iquat[2], iquat[3]).normalized().toRotationMatrix();
  p.inertia = Components(r * Eigen::Vector3d(inertia[0], inertia[1], inertia[2]).asDiagonal() *
                         r.transpose());
  return p;
}

}  // namespace nextbatch
