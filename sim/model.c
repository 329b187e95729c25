// model.c: finding and loading MJCF bodies and scenes into a shared, read-only am_model.
//
// MuJoCo's parser keeps the "last loaded XML" in process-wide state, so loads are serialised by a
// mutex and each model's self-contained MJCF is saved right after its load (mj_saveLastXML), which
// is what datasets embed so a viewer can rebuild the exact model from the file alone.
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "am_sim.h"

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

// MuJoCo prints warnings (and writes MUJOCO_LOG.TXT) through a process-wide hook. The library must
// not print, and per-data warnings are counted in mjData anyway, so the hook only keeps the text.
static __thread char last_warning[256];
static void quiet_warning(const char* msg) { snprintf(last_warning, sizeof last_warning, "%s", msg); }

// MuJoCo's fatal errors (see am_sim.h): the thread's innermost recovery point, else the tool's
// hook, else abort. Never returns into MuJoCo.
static __thread am_mj_guard* guard_top;
static am_fatal_hook volatile fatal_hook;

static void fatal_error(const char* msg) {
  am_mj_guard* g = guard_top;
  if (g) {
    guard_top = g->prev;
    snprintf(g->msg, sizeof g->msg, "%s", msg ? msg : "");
    size_t n = strlen(g->msg);
    while (n && (g->msg[n - 1] == '\n' || g->msg[n - 1] == ' ')) g->msg[--n] = 0;
    longjmp(g->jb, 1);
  }
  am_fatal_hook hook = fatal_hook;
  if (hook) hook(msg ? msg : "");
  fprintf(stderr, "animat: MuJoCo fatal error: %s\n", msg ? msg : "");
  fflush(stderr);
  abort();
}

static void install_quiet(void) {
  mju_user_warning = quiet_warning;
  mju_user_error = fatal_error;
}

void am_mujoco_install_handlers(void) { pthread_once(&quiet_once, install_quiet); }

am_fatal_hook am_set_fatal_hook(am_fatal_hook fn) {
  am_mujoco_install_handlers();
  am_fatal_hook prev = fatal_hook;
  fatal_hook = fn;
  return prev;
}

void am_mj_guard_push(am_mj_guard* g) {
  am_mujoco_install_handlers();
  g->msg[0] = 0;
  g->prev = guard_top;
  guard_top = g;
}

void am_mj_guard_pop(am_mj_guard* g) {
  // pops g and whatever was pushed after it and not popped (a jump out of an inner guard's scope)
  for (am_mj_guard* q = guard_top; q; q = q->prev)
    if (q == g) {
      guard_top = g->prev;
      return;
    }
}

const char* am_bodies_dir(void) {
  const char* env = getenv("ANIMAT_BODIES");
  return (env && *env) ? env : ANIMAT_BODIES_DIR;
}

static int file_exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int am_body_path(const char* name, char* out, size_t out_sz, char* err, size_t err_sz) {
  if (!name || !*name) return am_err(err, err_sz, "no body name given");
  if (strchr(name, '/') || strstr(name, ".xml")) {
    if ((size_t)snprintf(out, out_sz, "%s", name) >= out_sz)
      return am_err(err, err_sz, "body path too long: %s", name);
    return 0;
  }
  if ((size_t)snprintf(out, out_sz, "%s/%s.xml", am_bodies_dir(), name) >= out_sz)
    return am_err(err, err_sz, "body path too long: %s", name);
  if (!file_exists(out))
    return am_err(err, err_sz, "unknown body '%s' (no file %s; `animat bodies` lists them)", name,
                  out);
  return 0;
}

static int cmp_names(const void* a, const void* b) { return strcmp((const char*)a, (const char*)b); }

int am_list_bodies(char names[][64], int max, char* err, size_t err_sz) {
  const char* dir = am_bodies_dir();
  DIR* d = opendir(dir);
  if (!d) return am_err(err, err_sz, "cannot open bodies directory %s: %s", dir, strerror(errno));
  int n = 0;
  struct dirent* ent;
  while ((ent = readdir(d)) && n < max) {
    size_t len = strlen(ent->d_name);
    if (len < 5 || len >= 64 + 4 || ent->d_name[0] == '_' || ent->d_name[0] == '.') continue;
    if (strcmp(ent->d_name + len - 4, ".xml")) continue;
    memcpy(names[n], ent->d_name, len - 4);
    names[n][len - 4] = 0;
    n++;
  }
  closedir(d);
  qsort(names, (size_t)n, 64, cmp_names);
  return n;
}

// Saves the just-loaded model's MJCF into a string. Caller holds load_lock.
static char* save_last_xml(const mjModel* m, char* err, size_t err_sz) {
  const char* tmp = getenv("TMPDIR");
  char tmpl[1024];
  snprintf(tmpl, sizeof tmpl, "%s/animat-xml-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(tmpl);
  if (fd < 0) {
    am_err(err, err_sz, "cannot create a temporary file: %s", strerror(errno));
    return NULL;
  }
  close(fd);
  char merr[1000] = "";
  char* text = NULL;
  if (!mj_saveLastXML(tmpl, m, merr, sizeof merr)) {
    am_err(err, err_sz, "cannot save the model's XML: %s", merr);
  } else {
    text = am_read_text(tmpl, NULL, err, err_sz);
  }
  unlink(tmpl);
  return text;
}

static void stem_of(const char* path, char* out, size_t out_sz) {
  const char* base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(out, out_sz, "%s", base);
  char* dot = strrchr(out, '.');
  if (dot && dot != out) *dot = 0;
}

// Strips trailing newlines/spaces from MuJoCo's messages.
static void trim(char* s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r')) s[--n] = 0;
}

static am_model* finish_load(mjModel* m, const char* path, const char* name, char* err,
                             size_t err_sz) {
  char* xml = save_last_xml(m, err, err_sz);
  if (!xml) {
    mj_deleteModel(m);
    return NULL;
  }
  am_model* am = calloc(1, sizeof *am);
  if (!am) {
    free(xml);
    mj_deleteModel(m);
    am_err(err, err_sz, "out of memory");
    return NULL;
  }
  am->m = m;
  am->xml = xml;
  snprintf(am->path, sizeof am->path, "%s", path ? path : "");
  snprintf(am->name, sizeof am->name, "%s", name);
  return am;
}

am_model* am_model_load(const char* path, char* err, size_t err_sz) {
  am_mujoco_install_handlers();
  if (!path || !*path) {
    am_err(err, err_sz, "no model file given");
    return NULL;
  }
  if (!file_exists(path)) {
    am_err(err, err_sz, "%s: %s", path, access(path, F_OK) ? strerror(errno) : "not a regular file");
    return NULL;
  }
  char merr[1000] = "";
  char name[64];
  stem_of(path, name, sizeof name);
  pthread_mutex_lock(&load_lock);
  mjModel* m = mj_loadXML(path, NULL, merr, sizeof merr);
  am_model* am = NULL;
  if (!m) {
    trim(merr);
    am_err(err, err_sz, "%s: cannot load model: %s", path, merr[0] ? merr : "unknown MuJoCo error");
  } else {
    am = finish_load(m, path, name, err, err_sz);
  }
  pthread_mutex_unlock(&load_lock);
  return am;
}

am_model* am_model_load_body(const char* name_or_path, char* err, size_t err_sz) {
  char path[1024];
  if (am_body_path(name_or_path, path, sizeof path, err, err_sz)) return NULL;
  return am_model_load(path, err, err_sz);
}

am_model* am_model_load_string(const char* xml, const char* dir, const char* name, char* err,
                               size_t err_sz) {
  am_mujoco_install_handlers();
  if (!xml) {
    am_err(err, err_sz, "no model XML given");
    return NULL;
  }
  if (!name || !*name) name = "model";
  // The text is handed to MuJoCo as a file of its virtual file system (nothing is written to
  // disk) named as if it sat in `dir`: MuJoCo reads the main file from the VFS and resolves
  // relative includes and assets against that directory on disk. The name is one no real include
  // uses, since the VFS is searched first for every file.
  const char* where = dir ? dir : am_bodies_dir();
  char path[mjMAXVFSNAME];
  if ((size_t)snprintf(path, sizeof path, "%s/.animat-string-%s.xml", where, name) >= sizeof path) {
    am_err(err, err_sz, "model '%s': directory name too long: %s", name, where);
    return NULL;
  }
  size_t len = strlen(xml);
  if (len > (size_t)INT32_MAX) {
    am_err(err, err_sz, "model '%s': MJCF text of %zu bytes is too large", name, len);
    return NULL;
  }
  mjVFS* vfs = malloc(sizeof *vfs);  // large (file-name table): not on the stack
  if (!vfs) {
    am_err(err, err_sz, "out of memory");
    return NULL;
  }
  mj_defaultVFS(vfs);
  int idx = mj_makeEmptyFileVFS(vfs, path, (int)len) == 0 ? mj_findFileVFS(vfs, path) : -1;
  if (idx < 0) {
    mj_deleteVFS(vfs);
    free(vfs);
    am_err(err, err_sz, "model '%s': cannot hold the MJCF text in MuJoCo's virtual file system",
           name);
    return NULL;
  }
  memcpy(vfs->filedata[idx], xml, len);
  char merr[1000] = "";
  pthread_mutex_lock(&load_lock);
  mjModel* m = mj_loadXML(path, vfs, merr, sizeof merr);
  am_model* am = NULL;
  if (!m) {
    trim(merr);
    am_err(err, err_sz, "model '%s' (from text): cannot load: %s", name,
           merr[0] ? merr : "unknown MuJoCo error");
  } else {
    am = finish_load(m, NULL, name, err, err_sz);
  }
  pthread_mutex_unlock(&load_lock);
  mj_deleteVFS(vfs);
  free(vfs);
  return am;
}

void* am_model_to_mjb(const am_model* model, size_t* size, char* err, size_t err_sz) {
  int n = mj_sizeModel(model->m);
  void* buf = n > 0 ? malloc((size_t)n) : NULL;
  if (!buf) {
    am_err(err, err_sz, "cannot serialise model '%s' (%d bytes)", model->name, n);
    return NULL;
  }
  mj_saveModel(model->m, NULL, buf, n);
  *size = (size_t)n;
  return buf;
}

am_model* am_model_load_mjb(const void* mjb, size_t size, const char* xml, const char* name,
                            char* err, size_t err_sz) {
  am_mujoco_install_handlers();
  if (!name || !*name) return am_model_load_mjb(mjb, size, xml, "model", err, err_sz);
  if (!mjb || size < 16 || size > (size_t)INT32_MAX) {
    am_err(err, err_sz, "model '%s': binary model of %zu bytes is not plausible", name, size);
    return NULL;
  }
  mjVFS* vfs = malloc(sizeof *vfs);  // large (file-name table): not on the stack
  if (!vfs) {
    am_err(err, err_sz, "out of memory");
    return NULL;
  }
  mj_defaultVFS(vfs);
  mjModel* volatile m = NULL;
  // damaged bytes can make MuJoCo's loader fail fatally (e.g. an allocation of a size read from
  // the file): a recovery point turns that into an error
  am_mj_guard g;
  am_mj_guard_push(&g);
  if (setjmp(g.jb)) {
    mj_deleteVFS(vfs);
    free(vfs);
    am_err(err, err_sz, "model '%s': the binary model does not load: MuJoCo: %s", name, g.msg);
    return NULL;
  }
  if (mj_makeEmptyFileVFS(vfs, "model.mjb", (int)size) == 0) {
    int idx = mj_findFileVFS(vfs, "model.mjb");
    memcpy(vfs->filedata[idx], mjb, size);
    m = mj_loadModel("model.mjb", vfs);
  }
  am_mj_guard_pop(&g);
  mj_deleteVFS(vfs);
  free(vfs);
  if (!m) {
    am_err(err, err_sz, "model '%s': the binary model does not load (written by another MuJoCo "
           "version, or damaged)", name);
    return NULL;
  }
  am_model* am = calloc(1, sizeof *am);
  char* text = xml ? strdup(xml) : NULL;
  if (!am || (xml && !text)) {
    free(am);
    free(text);
    mj_deleteModel(m);
    am_err(err, err_sz, "out of memory");
    return NULL;
  }
  am->m = m;
  am->xml = text;
  snprintf(am->name, sizeof am->name, "%s", name);
  return am;
}

void am_model_free(am_model* model) {
  if (!model) return;
  if (model->m) mj_deleteModel(model->m);
  free(model->xml);
  free(model);
}
