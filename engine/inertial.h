// A body's inertial (mass, centre of mass, inertia tensor) through unconstrained coordinates
// that reach only physically consistent bodies: a log-Cholesky factor of the 4x4 pseudo-inertia
// matrix (Rucker and Wensing 2022, "Smooth Parameterization of Rigid-Body Inertia", IEEE RA-L
// 7(2)).
//
// With theta = (alpha, d1, d2, d3, s12, s23, s13, t1, t2, t3) and
//   U = e^alpha [A t; 0 1],  A = [e^d1 s12 s13; 0 e^d2 s23; 0 0 e^d3],
// the pseudo-inertia is J = U U^T = [Sigma_o h; h^T m], so that
//   mass m = e^(2 alpha),  centre of mass c = t,  Sigma = m A A^T (second moment about c),
//   inertia about c:  I = tr(Sigma) 1 - Sigma.
// J is positive definite for every theta, i.e. m > 0 and Sigma positive definite, which is the
// same as positive principal moments that satisfy the triangle inequalities strictly. Every
// physical body has exactly one theta. All quantities are in the body frame; the inertia's six
// components are the matrix entries ixx iyy izz ixy ixz iyz (MJCF's fullinertia order).
#ifndef NEXTBATCH_ENGINE_INERTIAL_H_
#define NEXTBATCH_ENGINE_INERTIAL_H_

#include <Eigen/Core>
#include <array>
#include <string>

namespace nextbatch {

inline constexpr int kInertialSize = 10;
using InertialVector = Eigen::Matrix<double, kInertialSize, 1>;
using InertialMatrix = Eigen::Matrix<double, kInertialSize, kInertialSize>;

// mass (kg), com (m, body frame), inertia about the com (kg m^2, body frame axes).
struct PhysicalInertial {
  double mass = 0.0;
  Eigen::Vector3d com = Eigen::Vector3d::Zero();
  Eigen::Matrix<double, 6, 1> inertia = Eigen::Matrix<double, 6, 1>::Zero();

  // (mass, com x y z, ixx iyy izz ixy ixz iyz): the order of every physical 10-vector here.
  InertialVector Stacked() const;
  static PhysicalInertial FromStacked(const InertialVector& v);
  Eigen::Matrix3d InertiaMatrix() const;
};

// Names of the ten coordinates (alpha d1 d2 d3 s12 s23 s13 t1 t2 t3) and of the ten physical
// quantities (mass com_x com_y com_z ixx iyy izz ixy ixz iyz), in order.
const std::array<const char*, kInertialSize>& InertialCoordinateNames();
const std::array<const char*, kInertialSize>& InertialQuantityNames();

// "" when `p` is physically consistent (finite, mass > 0, second moment about the com positive
// definite), else what is wrong with it.
std::string InertialProblem(const PhysicalInertial& p);

// theta for a physically consistent body; throws InputError (naming `where`) otherwise.
InertialVector InertialToCoordinates(const PhysicalInertial& p, const std::string& where);
PhysicalInertial InertialFromCoordinates(const InertialVector& theta);
// d Stacked() / d theta at theta, in closed form (the delta method's Jacobian).
InertialMatrix InertialJacobian(const InertialVector& theta);

// MuJoCo's form: principal moments and the quaternion (w x y z) of the principal axes in the body
// frame, from the eigen-decomposition of the inertia about the com (a right-handed frame).
void InertialToMujoco(const PhysicalInertial& p, double* mass, double ipos[3], double inertia[3],
                      double iquat[4]);
PhysicalInertial InertialFromMujoco(double mass, const double ipos[3], const double inertia[3],
                                    const double iquat[4]);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_INERTIAL_H_
