// cmd_demo.c: the default job. Until the learner lands, a short headless run of the reacher task:
// a random policy against a simple hand-written feedback controller, with what happened printed.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "amt_tasks.h"
#include "cli.h"

// Jacobian-transpose feedback on the fingertip error, from reacher's observation (11 values).
static void feedback_policy(const float* o, float* a) {
  double q0 = atan2(o[2], o[0]), q1 = atan2(o[3], o[1]);
  double ex = -o[8], ey = -o[9];  // target - fingertip
  double s0 = sin(q0), c0 = cos(q0), s01 = sin(q0 + q1), c01 = cos(q0 + q1);
  double j00 = -0.1 * s0 - 0.11 * s01, j01 = -0.11 * s01;
  double j10 = 0.1 * c0 + 0.11 * c01, j11 = 0.11 * c01;
  double kp = 6.0, kd = 0.08;
  double u0 = kp * (j00 * ex + j10 * ey) - kd * o[6];
  double u1 = kp * (j01 * ex + j11 * ey) - kd * o[7];
  a[0] = (float)fmax(-1, fmin(1, u0));
  a[1] = (float)fmax(-1, fmin(1, u1));
}

static int run_policy(am_task* t, int envs, int threads, int episodes, int feedback,
                      double* mean_return, double* sps) {
  char err[AM_ERR_LEN];
  am_pool_config cfg = {.num_envs = envs, .num_threads = threads, .seed = 7};
  am_pool* p = am_pool_create(t, &cfg, err, sizeof err);
  if (!p) return cli_fail("demo", "%s", err);
  am_batch* b = am_pool_batch(p);
  am_rng rng;
  am_rng_seed(&rng, 7, 1000);
  am_pool_stats s;
  double t0 = am_now();
  do {
    for (int i = 0; i < envs; i++) {
      float* a = b->actions + i * t->act_dim;
      if (feedback) feedback_policy(b->obs + i * t->obs_dim, a);
      else
        for (int k = 0; k < t->act_dim; k++) a[k] = (float)am_rng_range(&rng, -1, 1);
    }
    am_pool_step(p);
    am_pool_get_stats(p, &s);
  } while (s.episodes < episodes && !cli_interrupted);
  *sps = s.steps / (am_now() - t0);
  *mean_return = s.episodes ? s.return_sum / s.episodes : 0;
  am_pool_free(p);
  return 0;
}

int cmd_demo(int argc, char** argv) {
  const char* usage =
      "usage: animat demo [--envs N] [--threads T] [--episodes E]\n"
      "  A short headless run of the reacher task (Gymnasium Reacher-v4): a random policy, then a\n"
      "  hand-written feedback controller, with the mean episode return of each.\n";
  int envs = 16, threads = 2, episodes = 256;
  cli_flag flags[] = {{"envs", CLI_INT, &envs, 1, 4096},
                      {"threads", CLI_INT, &threads, 1, 256},
                      {"episodes", CLI_INT, &episodes, 1, 1 << 24}};
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, flags, 3, pos, 0, &npos, &help, usage);
  if (rc) return rc;
  if (help) {
    printf("%s", usage);
    return 0;
  }
  cli_install_interrupt();
  char err[AM_ERR_LEN];
  am_task t;
  if (amt_create(&t, "reacher", NULL, err, sizeof err)) return cli_fail("demo", "%s", err);
  printf("demo: task reacher (obs %d, act %d, %d-step episodes), %d envs on %d threads\n",
         t.obs_dim, t.act_dim, t.max_steps, envs, threads);
  double r_rand, r_fb, sps;
  if (run_policy(&t, envs, threads, episodes, 0, &r_rand, &sps)) return amt_destroy(&t), 1;
  printf("  random policy:       mean return %7.2f over %d episodes (%.0f env steps/s)\n", r_rand,
         episodes, sps);
  if (run_policy(&t, envs, threads, episodes, 1, &r_fb, &sps)) return amt_destroy(&t), 1;
  printf("  feedback controller: mean return %7.2f over %d episodes (%.0f env steps/s)\n", r_fb,
         episodes, sps);
  printf("  (published anchors at 1M training steps: TD3 -3.6, SAC -2.6)\n");
  amt_destroy(&t);
  return 0;
}
