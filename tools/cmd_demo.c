// cmd_demo.c: the default job (`tools/animat` with no arguments). Trains a recurrent policy on the
// reacher arm (about half a minute on 2 cores), then reports what was learned: the trained
// policy's mean return (its mean action, over fresh episodes) beside a random policy and a
// hand-written feedback controller, and leaves the run directory (checkpoint, metrics, config)
// to record and replay.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "amt_tasks.h"
#include "cli.h"
#include "record_net.h"

enum { POLICY_RANDOM, POLICY_FEEDBACK, POLICY_TRAINED };

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

// Mean return over `episodes` fresh episodes (seeded apart from training) of one kind of policy.
static int evaluate(am_task* t, int kind, const char* ckpt, int envs, int threads, int episodes,
                    double* mean_return) {
  char err[AM_ERR_LEN];
  am_pool_config cfg = {.num_envs = envs, .num_threads = threads, .seed = 1000003};
  am_pool* p = am_pool_create(t, &cfg, err, sizeof err);
  if (!p) return cli_fail("demo", "%s", err);
  netrec nr;
  memset(&nr, 0, sizeof nr);
  if (kind == POLICY_TRAINED) {
    if (ama_ckpt_load_policy(&nr.pol, ckpt, t->groups, t->n_groups, t->obs_dim, t->act_dim, envs,
                             err, sizeof err)) {
      am_pool_free(p);
      return cli_fail("demo", "%s", err);
    }
    nr.loaded = 1;
  }
  if (kind != POLICY_FEEDBACK &&
      netrec_setup(&nr, t, envs, kind == POLICY_TRAINED ? AMA_ACT_POLICY : AMA_ACT_RANDOM, 1, 7,
                   err, sizeof err)) {
    netrec_free(&nr);
    am_pool_free(p);
    return cli_fail("demo", "%s", err);
  }
  am_batch* b = am_pool_batch(p);
  am_pool_stats s;
  do {
    if (kind == POLICY_FEEDBACK)
      for (int i = 0; i < envs; i++)
        feedback_policy(b->obs + i * t->obs_dim, b->actions + i * t->act_dim);
    else
      ama_actor_act(&nr.act, b->obs, b->actions);
    am_pool_step(p);
    if (kind != POLICY_FEEDBACK) ama_actor_observe(&nr.act, b);
    am_pool_get_stats(p, &s);
  } while (s.episodes < episodes && !cli_interrupted);
  *mean_return = s.episodes ? s.return_sum / s.episodes : 0;
  netrec_free(&nr);
  am_pool_free(p);
  return 0;
}

int cmd_demo(int argc, char** argv) {
  const char* usage =
      "usage: animat demo [--steps N] [--out DIR] [--envs N] [--threads T] [--seed S]\n"
      "  Trains a recurrent policy (GRU core + GRU motor module, PPO) on the reacher arm\n"
      "  (Gymnasium Reacher-v4) for N env steps (default 1.5M, about half a minute on 2 quiet cores),\n"
      "  then compares its mean return with a random policy and a hand-written feedback controller.\n"
      "  The run directory (default runs/demo, replaced by each demo run) keeps the checkpoint\n"
      "  to record and replay.\n";
  double steps = 1500000;
  int envs = 64, threads = 2;
  uint64_t seed = 1;
  const char* out = "runs/demo";
  cli_flag flags[] = {{"steps", CLI_DOUBLE, &steps, 1e4, 1e10},
                      {"out", CLI_STRING, &out},
                      {"envs", CLI_INT, &envs, 1, 4096},
                      {"threads", CLI_INT, &threads, 1, 256},
                      {"seed", CLI_U64, &seed}};
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 0, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  char err[AM_ERR_LEN];
  am_task t;
  if (amt_create(&t, "reacher", NULL, err, sizeof err)) return cli_fail("demo", "%s", err);
  printf("animat demo: train a recurrent policy to reach with the two-link reacher arm\n");
  printf("  task reacher (obs %d, act %d, %d-step episodes of %g s)\n", t.obs_dim, t.act_dim,
         t.max_steps, t.max_steps * t.frame_skip * t.model->m->opt.timestep);
  double r_rand, r_fb, r_trained;
  if (evaluate(&t, POLICY_RANDOM, NULL, 16, threads, 256, &r_rand) ||
      evaluate(&t, POLICY_FEEDBACK, NULL, 16, threads, 256, &r_fb)) {
    amt_destroy(&t);
    return 1;
  }
  printf("  before training: random policy mean return %.2f; hand-written feedback controller "
         "%.2f\n\n",
         r_rand, r_fb);
  fflush(stdout);

  char a_steps[32], a_envs[16], a_threads[16], a_seed[32], a_out[1024];
  snprintf(a_steps, sizeof a_steps, "%.0f", steps);
  snprintf(a_envs, sizeof a_envs, "%d", envs);
  snprintf(a_threads, sizeof a_threads, "%d", threads);
  snprintf(a_seed, sizeof a_seed, "%llu", (unsigned long long)seed);
  snprintf(a_out, sizeof a_out, "%s", out);
  // the learner settings of tools/reacher.cfg (docs/benchmarks.md)
  char* targs[] = {"demo",      "--task",    "reacher",          "--steps",  a_steps,
                   "--envs",    a_envs,      "--threads",        a_threads,  "--seed",
                   a_seed,      "--out",     a_out,              "--force",  "--set",
                   "gamma=0.95", "--set",    "epochs=3",         "--set",    "minibatches=8",
                   "--set",     "lr=0.001",  "--set",            "init_logstd=-1.5"};
  rc = cmd_train((int)(sizeof targs / sizeof targs[0]), targs);
  if (rc) {
    amt_destroy(&t);
    return rc;
  }
  char ckpt[1100];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", out);
  if (evaluate(&t, POLICY_TRAINED, ckpt, 16, threads, 256, &r_trained)) {
    amt_destroy(&t);
    return 1;
  }
  amt_destroy(&t);
  printf("\nwhat was learned (mean return over 256 fresh episodes; higher is better):\n");
  printf("  random policy               %8.2f\n", r_rand);
  printf("  trained policy (mean action) %7.2f   <- %.0f env steps of PPO\n", r_trained, steps);
  printf("  feedback controller         %8.2f\n", r_fb);
  printf("  published anchors at 1M steps: TD3 -3.6, SAC -2.6; APPO -4.5 at 10M\n");
  if (cli_interrupted) printf("  (training was interrupted; the checkpoint holds where it got)\n");
  printf("\nnext:\n");
  // (each command works as printed, also after a second demo run: the demo's files live in its
  // run directory, which each demo run replaces)
  printf("  tools/animat record %s --episodes 20 --out %s/demo.rollout --force\n", out, out);
  printf("      records behaviour and every unit of both modules\n");
  printf("  build/animat-view %s/demo.rollout\n", out);
  printf("      replays the arm beside the network's activity\n");
  printf("  tools/animat train --resume %s --steps %.0f\n", out, 2 * steps);
  printf("      keeps training the same run up to twice the steps\n");
  return 0;
}
