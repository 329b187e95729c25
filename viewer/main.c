// main.c: the animat-view command: arguments, the GLFW window and its input, headless output.
//
//   animat-view FILE [--episode E] [--step S]              replay a dataset
//   animat-view --task NAME [--task-param k=v]...          a task run live
//   animat-view --checkpoint RUN_OR_FILE [--task NAME]     a trained policy run live
//   ... --screenshot out.png | --frames DIR [--every K]    headless (hidden window, offscreen)
//
// This is a tool: it prints and exits. The logic lives in amv_*.c.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <GLFW/glfw3.h>

#include "amt_tasks.h"
#include "amv.h"

static const char* usage =
    "usage: animat-view FILE [options]                  replay a recorded dataset\n"
    "       animat-view --task NAME [options]           run a task live\n"
    "       animat-view --checkpoint RUN_OR_FILE [...]  run a trained policy live\n"
    "options:\n"
    "  --task NAME            task to run live (see `animat tasks`)\n"
    "  --task-param k=v       task parameter override (repeatable)\n"
    "  --checkpoint PATH      checkpoint file or run directory (its checkpoint.bin) to drive the body\n"
    "  --policy P             live policy without a checkpoint: untrained (default), random, zero\n"
    "  --seed N               seed of the live run (default 1): the policy acts as\n"
    "                         `animat record --envs 1 --seed N` does (same noise and clipping)\n"
    "  --deterministic        live policy acts with its mean action, no recurrent noise\n"
    "  --episode E            episode to show (dataset index, default 0)\n"
    "  --step S               step to show (default: the middle of the episode in headless mode)\n"
    "  --steps N              live headless: control steps to simulate (default: one episode)\n"
    "  --screenshot OUT.png   render one frame offscreen and exit (needs a display: xvfb-run -a)\n"
    "  --frames DIR           render every K-th step of the episode to DIR/frame_NNNNNN.png\n"
    "                         (and DIR/episode.mp4 when ffmpeg is installed)\n"
    "  --every K              frame stride for --frames (default 1)\n"
    "  --size WxH             size of the composed image (default 1400x860)\n"
    "  --module NAME          neural module shown first\n"
    "  --hide body|scenery    leave the animal or the scenery (mocap bodies) out (repeatable)\n"
    "  --order index|peak|pc1 unit order of the heatmap\n"
    "  -h, --help             this text\n";

static const char* help_keys =
    "Space      play / pause\n"
    "Right/Left step (+Shift: 10 steps)\n"
    "Up/Down    speed x2 / x0.5\n"
    "Home/End   first / last step\n"
    "PgDn/PgUp  next / previous episode (also N / P)\n"
    "] / [      next / previous trial event\n"
    "C          camera: free, tracking, model cameras\n"
    "M          next network module (Shift: previous)\n"
    "O          unit order: index, peak time, PC1\n"
    "- / =      narrower / wider heatmap window\n"
    "F          contact forces on/off\n"
    "R          rangefinder rays on/off\n"
    "B / G      hide / show the body / the scenery\n"
    "S          save a screenshot (animat-view-N.png)\n"
    "H / F1     this help\n"
    "Q / Esc    quit\n"
    "Mouse: left drag rotate, right drag move,\n"
    "scroll zoom (body); click/drag traces: scrub";

typedef struct app {
  int live;
  amv_live L;
  amv_ds D;
  amv_meta meta;
  amv_episode ep;
  mjData* scratch;
  const mjModel* m;
  amv_view view;
  int64_t episode;  // dataset index
  double pos;       // current step (fractional while playing)
  int playing;
  double speed;
  int W, H;         // composed size
  // window input
  GLFWwindow* win;
  int drag_button;  // 0 none, 1 left, 2 right, 3 scrub
  double mx, my;
  int shots;
} app;

static int fail(const char* fmt, const char* a, const char* b) {
  fprintf(stderr, "animat-view: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n");
  return 1;
}

// MuJoCo's fatal errors (am_set_fatal_hook): MuJoCo cannot continue; the viewer writes nothing
// that could be left half-done, so it says so and exits with status 1.
static void mujoco_fatal(const char* msg) {
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
  fprintf(stderr, "animat-view: MuJoCo fatal error: %.*s\n", (int)n, msg);
  fflush(stderr);
  _exit(1);
}

static int cur_step(const app* A) {
  int t = (int)floor(A->pos + 1e-9);
  if (t >= A->ep.T) t = A->ep.T - 1;
  return t < 0 ? 0 : t;
}

static int load_episode(app* A, int64_t i, char* err, size_t err_sz) {
  if (A->live) return 0;
  if (i < 0 || i >= A->D.n_episodes)
    return am_err(err, err_sz, "episode %lld out of range (the file has %lld)", (long long)i,
                  (long long)A->D.n_episodes);
  if (amv_ds_load(&A->D, &A->meta, i, &A->ep, A->scratch, err, err_sz)) return -1;
  A->episode = i;
  return 0;
}

// Live headless: simulate until the episode ends or `steps` steps are held.
static int live_fill(app* A, int steps, char* err, size_t err_sz) {
  while (A->ep.T < steps) {
    int rc = amv_live_step(&A->L, &A->ep, err, err_sz);
    if (rc < 0) return -1;
    if (rc == 1) break;
  }
  return 0;
}

static void status(app* A) {
  snprintf(A->view.status, sizeof A->view.status, "%s  x%g%s", A->playing ? "playing" : "paused",
           A->speed, A->live ? "  (live)" : "");
}

//---------------------------------- headless ------------------------------------------------------

static int render_png(app* A, int t, const char* path, unsigned char* rgb, char* err,
                      size_t err_sz) {
  mjr_setBuffer(mjFB_OFFSCREEN, &A->view.con);
  amv_view_render(&A->view, &A->meta, &A->ep, t, A->W, A->H);
  mjrRect r = {0, 0, A->W, A->H};
  mjr_readPixels(rgb, NULL, r, &A->view.con);
  return amv_png_write(path, rgb, A->W, A->H, 1, err, err_sz);
}

static int have_ffmpeg(void) {
  const char* path = getenv("PATH");
  if (!path) return 0;
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char* save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char f[4200];
    snprintf(f, sizeof f, "%s/ffmpeg", d);
    if (access(f, X_OK) == 0) return 1;
  }
  return 0;
}

static int headless(app* A, const char* shot, const char* frames, int every, int step) {
  char err[AM_ERR_LEN];
  unsigned char* rgb = malloc((size_t)A->W * A->H * 3);
  if (!rgb) return fail("%s%s", "out of memory", "");
  int rc = 0;
  if (shot) {
    int t = step >= 0 ? step : A->ep.T / 2;
    if (t >= A->ep.T && A->ep.T > 0) {
      fprintf(stderr, "animat-view: step %d out of range (episode has %d steps); showing %d\n", t,
              A->ep.T, A->ep.T - 1);
      t = A->ep.T - 1;
    }
    if (render_png(A, t, shot, rgb, err, sizeof err)) rc = fail("%s%s", err, "");
    else printf("animat-view: wrote %s (%dx%d, episode %lld, step %d of %d)\n", shot, A->W, A->H,
                (long long)A->ep.index, t, A->ep.T);
  }
  if (frames && !rc) {
    if (mkdir(frames, 0755) != 0 && errno != EEXIST) {
      free(rgb);
      return fail("cannot create %s: %s", frames, strerror(errno));
    }
    int n = 0;
    for (int t = 0; t < A->ep.T && !rc; t += every) {
      char path[1200];
      snprintf(path, sizeof path, "%s/frame_%06d.png", frames, n++);
      if (render_png(A, t, path, rgb, err, sizeof err)) rc = fail("%s%s", err, "");
    }
    if (!rc) printf("animat-view: wrote %d frames to %s/\n", n, frames);
    if (!rc && n > 1 && have_ffmpeg()) {
      double fps = 1.0 / (A->ep.dt * every);
      if (fps > 60) fps = 60;
      if (fps < 1) fps = 1;
      char cmd[3000];
      snprintf(cmd, sizeof cmd,
               "ffmpeg -loglevel error -y -framerate %.3f -i '%s/frame_%%06d.png' -pix_fmt yuv420p "
               "-vf 'scale=trunc(iw/2)*2:trunc(ih/2)*2' '%s/episode.mp4'",
               fps, frames, frames);
      char mp4[1200];
      snprintf(mp4, sizeof mp4, "%s/episode.mp4", frames);
      struct stat st;
      if (system(cmd) == 0 && stat(mp4, &st) == 0 && st.st_size > 0)
        printf("animat-view: wrote %s (%lld bytes)\n", mp4, (long long)st.st_size);
      else {
        remove(mp4);  // nothing half-written left
        fprintf(stderr, "animat-view: ffmpeg made no video; the PNG frames are in %s/\n", frames);
      }
    } else if (!rc && n > 1)
      printf("animat-view: ffmpeg not installed: no MP4 (the PNG frames are there)\n");
  }
  free(rgb);
  return rc;
}

//---------------------------------- window input --------------------------------------------------

static void jump_event(app* A, int dir) {
  int t = cur_step(A);
  for (int s = t + dir; s >= 0 && s < A->ep.T; s += dir)
    if (A->ep.events[s]) {
      A->pos = s;
      A->playing = 0;
      int k = 0;
      while (!(A->ep.events[s] & (1u << k))) k++;
      snprintf(A->view.status, sizeof A->view.status, "event %s at step %d",
               k < A->meta.n_events ? A->meta.events[k] : "?", s);
      return;
    }
  snprintf(A->view.status, sizeof A->view.status, "no %s trial event", dir > 0 ? "later" : "earlier");
}

static void change_episode(app* A, int dir) {
  if (A->live) {
    snprintf(A->view.status, sizeof A->view.status, "live run: episodes follow one another");
    return;
  }
  char err[AM_ERR_LEN];
  int64_t i = A->episode + dir;
  if (i < 0 || i >= A->D.n_episodes) {
    snprintf(A->view.status, sizeof A->view.status, "no %s episode (%lld in the file)",
             dir > 0 ? "next" : "previous", (long long)A->D.n_episodes);
    return;
  }
  if (load_episode(A, i, err, sizeof err)) {
    snprintf(A->view.status, sizeof A->view.status, "%.200s", err);
    return;
  }
  A->pos = 0;
}

static void on_key(GLFWwindow* w, int key, int sc, int action, int mods) {
  app* A = glfwGetWindowUserPointer(w);
  if (action == GLFW_RELEASE) return;
  int shift = mods & GLFW_MOD_SHIFT;
  amv_view* v = &A->view;
  switch (key) {
    case GLFW_KEY_ESCAPE:
    case GLFW_KEY_Q: glfwSetWindowShouldClose(w, 1); return;
    case GLFW_KEY_SPACE:
      A->playing = !A->playing;
      if (A->playing && !A->live && cur_step(A) >= A->ep.T - 1) A->pos = 0;
      break;
    case GLFW_KEY_RIGHT:
    case GLFW_KEY_LEFT: {
      A->playing = 0;
      int t = cur_step(A) + (key == GLFW_KEY_RIGHT ? 1 : -1) * (shift ? 10 : 1);
      if (A->live && t >= A->ep.T) {  // stepping past the end of a live run simulates a step
        char err[AM_ERR_LEN];
        if (amv_live_step(&A->L, &A->ep, err, sizeof err) == 1) {
          amv_live_next_episode(&A->L, &A->ep);
        }
      }
      A->pos = t < 0 ? 0 : t >= A->ep.T ? A->ep.T - 1 : t;
      break;
    }
    case GLFW_KEY_UP: A->speed = fmin(16, A->speed * 2); break;
    case GLFW_KEY_DOWN: A->speed = fmax(1.0 / 16, A->speed / 2); break;
    case GLFW_KEY_HOME: A->pos = 0; break;
    case GLFW_KEY_END: A->pos = A->ep.T - 1; break;
    case GLFW_KEY_PAGE_DOWN:
    case GLFW_KEY_N: change_episode(A, 1); return;
    case GLFW_KEY_PAGE_UP:
    case GLFW_KEY_P: change_episode(A, -1); return;
    case GLFW_KEY_RIGHT_BRACKET: jump_event(A, 1); return;
    case GLFW_KEY_LEFT_BRACKET: jump_event(A, -1); return;
    case GLFW_KEY_C: amv_view_next_camera(v); break;
    case GLFW_KEY_M:
      if (A->ep.n_modules)
        v->module = (v->module + (shift ? A->ep.n_modules - 1 : 1)) % A->ep.n_modules;
      break;
    case GLFW_KEY_O: v->order = (v->order + 1) % AMV_ORDER_COUNT; break;
    case GLFW_KEY_MINUS: v->half_window = v->half_window > 10 ? v->half_window * 2 / 3 : 10; break;
    case GLFW_KEY_EQUAL: v->half_window = v->half_window < 5000 ? v->half_window * 3 / 2 : 5000; break;
    case GLFW_KEY_F: v->show_forces = !v->show_forces; break;
    case GLFW_KEY_R: v->opt.flags[mjVIS_RANGEFINDER] = !v->opt.flags[mjVIS_RANGEFINDER]; break;
    case GLFW_KEY_B: v->hide_body = !v->hide_body; break;
    case GLFW_KEY_G: v->hide_scenery = !v->hide_scenery; break;
    case GLFW_KEY_H:
    case GLFW_KEY_F1: v->show_help = !v->show_help; break;
    case GLFW_KEY_S: {
      char path[64], err[AM_ERR_LEN];
      snprintf(path, sizeof path, "animat-view-%d.png", A->shots++);
      int fw, fh;
      glfwGetFramebufferSize(w, &fw, &fh);
      unsigned char* rgb = malloc((size_t)fw * fh * 3);
      if (rgb) {
        mjrRect r = {0, 0, fw, fh};
        mjr_readPixels(rgb, NULL, r, &v->con);
        if (amv_png_write(path, rgb, fw, fh, 1, err, sizeof err))
          snprintf(v->status, sizeof v->status, "%.200s", err);
        else snprintf(v->status, sizeof v->status, "saved %s", path);
        free(rgb);
      }
      return;
    }
    default: return;
  }
  status(A);
}

// Window coordinates (top-left origin, window units) to framebuffer pixels (bottom-left origin).
static void to_fb(app* A, double x, double y, int* fx, int* fy) {
  int ww, wh, fw, fh;
  glfwGetWindowSize(A->win, &ww, &wh);
  glfwGetFramebufferSize(A->win, &fw, &fh);
  double sx = ww > 0 ? (double)fw / ww : 1, sy = wh > 0 ? (double)fh / wh : 1;
  *fx = (int)(x * sx);
  *fy = fh - 1 - (int)(y * sy);
}

static void on_button(GLFWwindow* w, int button, int action, int mods) {
  app* A = glfwGetWindowUserPointer(w);
  glfwGetCursorPos(w, &A->mx, &A->my);
  if (action == GLFW_RELEASE) {
    A->drag_button = 0;
    return;
  }
  int fx, fy, fw, fh;
  to_fb(A, A->mx, A->my, &fx, &fy);
  glfwGetFramebufferSize(w, &fw, &fh);
  int s = amv_view_step_at(&A->view, &A->ep, fx, fy, fw, fh);
  if (s >= 0 && button == GLFW_MOUSE_BUTTON_LEFT) {
    A->drag_button = 3;
    A->pos = s;
    A->playing = 0;
    status(A);
    return;
  }
  A->drag_button = button == GLFW_MOUSE_BUTTON_LEFT ? 1 : button == GLFW_MOUSE_BUTTON_RIGHT ? 2 : 0;
}

static void on_move(GLFWwindow* w, double x, double y) {
  app* A = glfwGetWindowUserPointer(w);
  double dx = x - A->mx, dy = y - A->my;
  A->mx = x, A->my = y;
  if (!A->drag_button) return;
  int fw, fh, fx, fy;
  glfwGetFramebufferSize(w, &fw, &fh);
  if (A->drag_button == 3) {
    to_fb(A, x, y, &fx, &fy);
    amv_rect rc[AMV_NRECT];
    amv_layout(fw, fh, rc);
    fy = rc[AMV_RECT_TRACE].bottom + 1;  // keep scrubbing while the pointer leaves the panel
    int s = amv_view_step_at(&A->view, &A->ep, fx, fy, fw, fh);
    if (s >= 0) A->pos = s;
    return;
  }
  int ww, wh;
  glfwGetWindowSize(w, &ww, &wh);
  int shift = glfwGetKey(w, GLFW_KEY_LEFT_SHIFT) == GLFW_PRESS;
  int act = A->drag_button == 1 ? (shift ? mjMOUSE_ROTATE_H : mjMOUSE_ROTATE_V)
                                : (shift ? mjMOUSE_MOVE_H : mjMOUSE_MOVE_V);
  amv_view_move_camera(&A->view, act, dx / (wh > 0 ? wh : 1), dy / (wh > 0 ? wh : 1));
}

static void on_scroll(GLFWwindow* w, double xo, double yo) {
  app* A = glfwGetWindowUserPointer(w);
  amv_view_move_camera(&A->view, mjMOUSE_ZOOM, 0, -0.05 * yo);
}

static int interactive(app* A) {
  glfwSetWindowUserPointer(A->win, A);
  glfwSetKeyCallback(A->win, on_key);
  glfwSetMouseButtonCallback(A->win, on_button);
  glfwSetCursorPosCallback(A->win, on_move);
  glfwSetScrollCallback(A->win, on_scroll);
  A->playing = 1;
  status(A);
  double last = glfwGetTime(), sim_debt = 0;
  char err[AM_ERR_LEN];
  while (!glfwWindowShouldClose(A->win)) {
    double now = glfwGetTime(), el = now - last;
    last = now;
    if (el > 0.25) el = 0.25;
    if (A->playing && A->ep.dt > 0) {
      if (A->live) {  // simulate in real time (times speed), cursor at the newest step
        sim_debt += el * A->speed / A->ep.dt;
        while (sim_debt >= 1) {
          sim_debt -= 1;
          int rc = amv_live_step(&A->L, &A->ep, err, sizeof err);
          if (rc < 0) return fail("%s%s", err, "");
          if (rc == 1) {
            amv_live_next_episode(&A->L, &A->ep);
            sim_debt = 0;
            break;
          }
        }
        A->pos = A->ep.T - 1;
      } else {
        A->pos += el * A->speed / A->ep.dt;
        if (A->pos >= A->ep.T - 1) {
          A->pos = A->ep.T - 1;
          A->playing = 0;
          status(A);
        }
      }
    }
    int fw, fh;
    glfwGetFramebufferSize(A->win, &fw, &fh);
    mjr_setBuffer(mjFB_WINDOW, &A->view.con);
    if (fw > 0 && fh > 0) amv_view_render(&A->view, &A->meta, &A->ep, cur_step(A), fw, fh);
    glfwSwapBuffers(A->win);
    glfwPollEvents();
  }
  return 0;
}

//---------------------------------- main ----------------------------------------------------------

int main(int argc, char** argv) {
  const char *file = NULL, *task = NULL, *ckpt = NULL, *policy = NULL, *shot = NULL,
             *frames = NULL, *module = NULL, *order = NULL;
  int every = 1, step = -1, steps = 0, W = 1400, H = 860, hide_body = 0, hide_scenery = 0;
  long long episode = 0, seed = 1;
  int deterministic = 0;
  amt_params params = {0};
  char err[AM_ERR_LEN];
  am_set_fatal_hook(mujoco_fatal);  // never "Press Enter to exit" nor MUJOCO_LOG.TXT
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    const char* val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDVAL()                                          \
  do {                                                     \
    if (!val) return fail("%s needs a value%s", a, ""), 2; \
    i++;                                                   \
  } while (0)
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      printf("%s\nkeys:\n%s\n", usage, help_keys);
      return 0;
    } else if (!strcmp(a, "--task")) {
      NEEDVAL();
      task = val;
    } else if (!strcmp(a, "--task-param")) {
      NEEDVAL();
      if (amt_params_add(&params, val, err, sizeof err)) return fail("%s%s", err, ""), 2;
    } else if (!strcmp(a, "--checkpoint")) {
      NEEDVAL();
      ckpt = val;
    } else if (!strcmp(a, "--policy")) {
      NEEDVAL();
      policy = val;
    } else if (!strcmp(a, "--seed")) {
      NEEDVAL();
      seed = atoll(val);
    } else if (!strcmp(a, "--deterministic")) {
      deterministic = 1;
    } else if (!strcmp(a, "--episode")) {
      NEEDVAL();
      episode = atoll(val);
    } else if (!strcmp(a, "--step")) {
      NEEDVAL();
      step = atoi(val);
    } else if (!strcmp(a, "--steps")) {
      NEEDVAL();
      steps = atoi(val);
    } else if (!strcmp(a, "--screenshot")) {
      NEEDVAL();
      shot = val;
    } else if (!strcmp(a, "--frames")) {
      NEEDVAL();
      frames = val;
    } else if (!strcmp(a, "--every")) {
      NEEDVAL();
      every = atoi(val);
    } else if (!strcmp(a, "--module")) {
      NEEDVAL();
      module = val;
    } else if (!strcmp(a, "--hide")) {
      NEEDVAL();
      if (!strcmp(val, "body")) hide_body = 1;
      else if (!strcmp(val, "scenery")) hide_scenery = 1;
      else return fail("--hide wants body or scenery (got %s)%s", val, ""), 2;
    } else if (!strcmp(a, "--order")) {
      NEEDVAL();
      order = val;
    } else if (!strcmp(a, "--size")) {
      NEEDVAL();
      if (sscanf(val, "%dx%d", &W, &H) != 2 || W < 320 || H < 240 || W > 8192 || H > 8192)
        return fail("--size wants WxH between 320x240 and 8192x8192 (got %s)%s", val, ""), 2;
    } else if (a[0] == '-') return fail("unknown option %s (see --help)%s", a, ""), 2;
    else if (!file) file = a;
    else return fail("one file at a time (got %s and %s)", file, a), 2;
  }
  if (every < 1) return fail("--every must be >= 1%s%s", "", ""), 2;
  if (!file && !task && !ckpt) {
    fprintf(stderr, "%s", usage);
    return 2;
  }
  if (file && (task || ckpt || policy))
    return fail("give a FILE to replay or --task/--checkpoint to run live, not both%s%s", "", ""), 2;
  int headless_mode = shot || frames;
  int order_index = AMV_ORDER_INDEX, module_index = 0;
  if (order) {
    if (!strcmp(order, "peak")) order_index = AMV_ORDER_PEAK;
    else if (!strcmp(order, "pc1")) order_index = AMV_ORDER_PC1;
    else if (strcmp(order, "index") != 0)
      return fail("--order wants index, peak or pc1 (got %s)%s", order, ""), 2;
  }

  static app A;
  A.speed = 1;
  A.W = W, A.H = H;
  // the data first: a bad file fails before any window opens
  if (file) {
    if (amv_ds_open(&A.D, file, &A.meta, err, sizeof err)) return fail("%s%s", err, ""), 1;
    A.m = A.D.model->m;
    A.scratch = mj_makeData(A.m);
    if (load_episode(&A, episode, err, sizeof err)) return fail("%s%s", err, ""), 1;
  } else {
    A.live = 1;
    const char* pol = ckpt ? ckpt : policy ? policy : "untrained";
    if (amv_live_open(&A.L, task, &params, pol, (uint64_t)seed, deterministic, &A.meta, &A.ep,
                      err, sizeof err))
      return fail("%s%s", err, ""), 1;
    A.m = amv_live_model(&A.L);
    if (headless_mode) {
      int want = steps > 0 ? steps : A.L.task.max_steps > 0 ? A.L.task.max_steps : 500;
      if (step >= want) want = step + 1;
      if (live_fill(&A, want, err, sizeof err)) return fail("%s%s", err, ""), 1;
    }
  }

  if (module) {  // checked before any window opens, like the data
    char names[AM_NAME_LEN * AMV_MAX_MODULES + 64] = "";
    module_index = -1;
    for (int i = 0; i < A.ep.n_modules; i++) {
      if (!strcmp(A.ep.modules[i].name, module)) module_index = i;
      snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
               A.ep.modules[i].name);
    }
    if (module_index < 0) {
      fprintf(stderr, "animat-view: --module %s: no such module in this episode (%s)\n", module,
              A.ep.n_modules ? names : "it holds no network activity");
      return 2;
    }
  }

  if (!glfwInit()) {
    return fail("cannot initialise GLFW: no display? Run headless output under `xvfb-run -a "
                "animat-view ...`%s%s", "", ""), 1;
  }
  if (headless_mode) glfwWindowHint(GLFW_VISIBLE, GLFW_FALSE);
  glfwWindowHint(GLFW_SAMPLES, 4);
  A.win = glfwCreateWindow(headless_mode ? 64 : W, headless_mode ? 64 : H, "animat-view", NULL,
                           NULL);
  if (!A.win) {
    glfwTerminate();
    return fail("cannot open an OpenGL window (no display or no OpenGL driver)%s%s", "", ""), 1;
  }
  glfwMakeContextCurrent(A.win);
  glfwSwapInterval(1);
  if (amv_view_init(&A.view, A.m, W, H, err, sizeof err)) return fail("%s%s", err, ""), 1;
  A.view.help_text = help_keys;
  A.view.module = module_index;
  A.view.order = order_index;
  A.view.hide_body = hide_body;
  A.view.hide_scenery = hide_scenery;
  int rc;
  if (headless_mode) {
    status(&A);
    snprintf(A.view.status, sizeof A.view.status, "%s", "");
    rc = headless(&A, shot, frames, every, step);
  } else {
    if (step >= 0) A.pos = step;
    rc = interactive(&A);
  }
  amv_view_free(&A.view);
  glfwDestroyWindow(A.win);
  glfwTerminate();
  if (A.live) amv_live_close(&A.L);
  else amv_ds_close(&A.D);
  amv_episode_free(&A.ep);
  if (A.scratch) mj_deleteData(A.scratch);
  return rc;
}
