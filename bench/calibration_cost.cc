// Calibration cost: (1) one central-difference Jacobian evaluation against the simulations it
// must contain, all measured in this run on the same threads: (2P+1) and (2(P+nx)+1) replays of
// the same data with the plain engine rollout; (2) total solve time of the 2-link case as
// episodes and segments grow. Usage: calibration_cost [threads] [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "calibration/calibration.h"
#include "calibration/segments.h"
#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/rollout.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"

namespace nb = nextbatch;
using Clock = std::chrono::steady_clock;

namespace {

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct TwoLink {
  nb::ModelPtr model = nb::LoadModelString(nb::testing::TwoLinkXml());
  std::vector<nb::ParameterSpec> specs = nb::testing::TwoLinkSpecs();
  nb::ParameterBinding binding{model.get(), specs};
  Eigen::VectorXd truth = nb::testing::TwoLinkTruth();

  std::vector<nb::Episode> Episodes(int count, double duration) const {
    nb::testing::SyntheticLog log;
    log.duration = duration;
    log.ctrl_offset = {0.0, 0.0};
    log.ctrl_amplitude = {4.0, 1.5};
    std::vector<nb::Episode> out;
    for (int i = 0; i < count; ++i) {
      nb::State s = nb::State::Reference(model.get());
      s.qpos[0] = -1.2 + 0.4 * (i % 4);
      s.qpos[1] = 0.3 * (i % 3);
      out.push_back(nb::testing::MakeEpisode(model.get(), binding, truth, s, log, i));
    }
    return out;
  }
};

// Plain engine replay of every episode from its first logged state, episodes in parallel.
double EngineReplay(const TwoLink& c, const std::vector<nb::Episode>& eps, int threads) {
  nb::WorkspacePool pool(c.model.get(), threads, true);
  const auto t = Clock::now();
  nb::ParallelFor(static_cast<int>(eps.size()), threads, [&](int i, int th) {
    nb::Workspace& ws = pool[th];
    ws.Apply(c.binding, c.binding.Initial());
    nb::State s = nb::State::Reference(ws.model());
    for (int k = 0; k < 2; ++k) s.qpos[k] = eps[i].qpos.values(0, k);
    ws.SetState(s);
    nb::OpenLoopController ctl(eps[i].time, eps[i].ctrl.values);
    nb::RolloutOptions o;
    o.num_steps = static_cast<int>(eps[i].duration() / ws.model()->opt.timestep);
    o.record_every = 1;
    nb::Rollout(ws, &ctl, o);
  });
  return Since(t);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else {
      threads = std::max(1, std::atoi(argv[i]));
    }
  }
  TwoLink c;
  const int P = c.binding.size();

  // (1) Jacobian cost against replays of the same data.
  {
    auto eps = c.Episodes(4, 2.0);
    nb::calib::LayoutOptions lo;
    lo.segment_seconds = 0.5;
    nb::calib::Layout layout(c.model.get(), eps, lo);
    std::vector<int> all(layout.segments().size());
    for (std::size_t s = 0; s < all.size(); ++s) all[s] = static_cast<int>(s);
    nb::calib::Evaluator ev(c.model.get(), c.binding, eps, layout, all, threads,
                            nb::ControlHold::kLinear);
    std::vector<Eigen::VectorXd> x;
    for (const auto& s : layout.segments()) x.push_back(s.x_init);
    const Eigen::VectorXd z = ev.Internal(c.binding.Initial());
    const int reps = quick ? 2 : 5;
    double engine = 1e300, residuals = 1e300, jacobian = 1e300;
    for (int r = 0; r < reps; ++r) {
      engine = std::min(engine, EngineReplay(c, eps, threads));
      auto t = Clock::now();
      ev.Evaluate(z, x, false);
      residuals = std::min(residuals, Since(t));
      t = Clock::now();
      ev.Evaluate(z, x, true);
      jacobian = std::min(jacobian, Since(t));
    }
    const int nx = layout.nx();
    std::printf("jacobian cost, 2-link, %d episodes x 2 s, %zu segments, P=%d, nx=%d, %d threads\n",
                static_cast<int>(eps.size()), all.size(), P, nx, threads);
    std::printf("  engine replay of the data (reference)     %9.4f s\n", engine);
    std::printf("  residual evaluation (segments, parallel)  %9.4f s  = %.2f x replay\n", residuals,
                residuals / engine);
    std::printf("  jacobian evaluation                       %9.4f s\n", jacobian);
    std::printf("  ratio to (2P+1) = %d replays               %9.2f\n", 2 * P + 1,
                jacobian / ((2 * P + 1) * engine));
    std::printf("  ratio to (2(P+nx)+1) = %d replays          %9.2f  (overhead)\n",
                2 * (P + nx) + 1, jacobian / ((2 * (P + nx) + 1) * engine));
  }

  // (2) Total solve time as episodes and segments grow.
  std::printf("\nsolve time, 2-link, 8 parameters, episodes of 2 s, %d threads\n", threads);
  std::printf("%9s %8s %9s %8s %6s %9s %9s %9s %8s %8s\n", "episodes", "seg_s", "segments",
              "unknowns", "iters", "solve_s", "s/iter", "total_s", "chi2", "max|z|");
  const std::vector<int> counts = quick ? std::vector<int>{1, 2} : std::vector<int>{1, 2, 4, 8};
  const std::vector<double> lengths =
      quick ? std::vector<double>{0.5} : std::vector<double>{1.0, 0.5, 0.25};
  for (int n : counts) {
    auto eps = c.Episodes(n, 2.0);
    for (double len : lengths) {
      nb::CalibrationOptions o;
      o.threads = threads;
      o.segment_seconds = len;
      o.held_out_fraction = 0;
      const auto t = Clock::now();
      nb::CalibrationResult r = nb::Calibrate(c.model.get(), c.binding, eps, o);
      const double total = Since(t);
      double worst = 0;
      for (int j = 0; j < P; ++j)
        worst = std::max(worst, std::abs(r.value[j] - c.truth[j]) / r.std[j]);
      std::printf("%9d %8.2f %9d %8d %6d %9.3f %9.4f %9.3f %8.3f %8.2f\n", n, len,
                  r.summary.segments, r.summary.unknowns, r.summary.iterations,
                  r.summary.solve_seconds,
                  r.summary.solve_seconds / std::max(1, r.summary.iterations), total,
                  r.summary.reduced_chi2, worst);
    }
  }
  return 0;
}
