// vf's native helper. Shared rings (atomic cells, see ring_cell; bells, see make_fifo, and
// listen_bell, which listens to one on the event loop). Shared memory (packages/core/src/transport/sharedFrames.ts): maps a segment file,
// shared for the sender (it writes frames into pages that stay allocated) and copy-on-write for a
// receiver (which owns its bytes without copying them; its name for the segment goes when its
// mapping does, which tells the sender the segment is free again), and tells whether a receiver
// wrote to its mapping (an unwritten one is forwarded as a link, not copied). Heartbeats
// (packages/core/src/runtime/liveness.ts): a thread of its own that writes a task's heartbeats while
// its main thread is blocked, at no start-up cost (a worker thread costs a task tens of ms of CPU,
// on its critical path). Task processes started with posix_spawn (see spawn_process). Plain Node-API (C), built by
// native/build.mjs with the C compiler and the headers installed with Node; optional: without it,
// segments are written and read with system calls (one copy more each), heartbeats come from a
// worker thread, and there are no rings (ZeroMQ carries every envelope).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <spawn.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#if defined(VF_UV_BELL)
#include <uv.h>
#endif

static napi_value throw_errno(napi_env env, const char* what, int error) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(error));
  napi_throw_error(env, "VF_SHM", message);
  return NULL;
}

// V8 counts an ArrayBuffer's whole length as external memory, and past 64 MB more than after its
// last collection it runs a full mark-compact ("external memory pressure"): with 6 MB frames, one
// every ten frames, which cost a receiver more CPU than the rest of its work (bench/run.ts frames,
// --trace-gc). A receiver's unwritten private mapping costs it no memory of its own (its pages are
// the sender's, in the page cache), so it is counted as 1/EXTERNAL_SHARE of its length: collections
// still come within 64 MB × EXTERNAL_SHARE of dropped mappings, which bounds how long a sender's
// segment stays held; most are collected sooner, by scavenges.
#define EXTERNAL_SHARE 4

typedef struct {
  size_t length;
  // The receiver's name for the segment, unlinked once unmapped; empty for the sender's mappings.
  char path[];
} Mapping;

static void unmap(napi_env env, void* data, void* hint) {
  Mapping* mapping = hint;
  munmap(data, mapping->length);
  if (mapping->path[0] != '\0') {
    unlink(mapping->path);
    int64_t ignored;
    napi_adjust_external_memory(env, (int64_t)(mapping->length - mapping->length / EXTERNAL_SHARE), &ignored);
  }
  free(mapping);
}

// A receiver's mapping goes (and with it its link, which frees the sender's segment) only when a
// collection finds its buffer dead; most die young, so a scavenge finds them. V8 weighs the young
// generation's ArrayBuffer bytes (mappings included) against its limit, and scavenges past it,
// only when an ArrayBuffer is allocated through its allocator, never when an addon wraps memory of
// its own. A task that allocates none (its bell is read without buffers, its messages come through
// rings) would keep its dead mappings until a full collection: for 1080p frames, 60-86 segments
// per 300 frames instead of 15-27, and a third fewer frames per second (bench/run.ts frames). A
// one-byte buffer allocated here lets V8 make that check at every frame received.
static void let_v8_weigh_young_buffers(napi_env env) {
  void* data = NULL;
  napi_value probe;
  napi_create_arraybuffer(env, 1, &data, &probe);
}

// map(path, byteLength, shared): an ArrayBuffer over a mapping of the whole file, which must be a
// regular file of exactly byteLength bytes (> 0). shared: read-write MAP_SHARED (the sender's pool
// segment). Else private (copy-on-write), and `path` is unlinked when the buffer is collected.
static napi_value map_segment(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  bool shared = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || napi_get_value_bool(env, argv[2], &shared) != napi_ok) {
    napi_throw_type_error(env, NULL, "map(path, byteLength, shared)");
    return NULL;
  }
  char path[4096];
  size_t path_length = 0;
  double wanted = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_length) != napi_ok || path_length >= sizeof path - 1 ||
      napi_get_value_double(env, argv[1], &wanted) != napi_ok || !(wanted > 0) || wanted > (double)SIZE_MAX) {
    napi_throw_type_error(env, NULL, "map(path, byteLength): a path and a positive length");
    return NULL;
  }
  size_t length = (size_t)wanted;
  if (!shared) let_v8_weigh_young_buffers(env);
  int fd = open(path, (shared ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int error = errno;
    close(fd);
    return throw_errno(env, "fstat", error);
  }
  if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != (uint64_t)length) {
    close(fd);
    napi_throw_error(env, "VF_SHM_SIZE", "segment is not a regular file of the announced size");
    return NULL;
  }
  // The sender's segment gets all its pages now: a tmpfs that cannot back one (a small /dev/shm, as
  // Docker's 64 MB) answers ENOSPC here, which the caller turns into an inline frame; unallocated,
  // the first write past the tmpfs's room would kill the process with SIGBUS.
  if (shared) {
    int error = posix_fallocate(fd, 0, (off_t)length);
    if (error != 0) {
      close(fd);
      return throw_errno(env, "posix_fallocate", error);
    }
  }
  // A receiver's mapping is private and writable: it may change its bytes, and no other process
  // sees it. No MAP_POPULATE there: on a private writable mapping it would copy every page. The
  // sender's segment is populated: its pages come in one call, not one fault each (they are
  // allocated and written already: the sender maps a segment when it first reuses it).
  void* data = mmap(NULL, length, PROT_READ | PROT_WRITE, shared ? MAP_SHARED | MAP_POPULATE : MAP_PRIVATE, fd, 0);
  int error = errno;
  close(fd);
  if (data == MAP_FAILED) return throw_errno(env, "mmap", error);
  Mapping* mapping = malloc(sizeof(Mapping) + (shared ? 1 : path_length + 1));
  if (mapping == NULL) {
    munmap(data, length);
    return throw_errno(env, "malloc", ENOMEM);
  }
  mapping->length = length;
  if (shared) mapping->path[0] = '\0';
  else memcpy(mapping->path, path, path_length + 1);
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, data, length, unmap, mapping, &buffer) != napi_ok) {
    free(mapping);
    munmap(data, length);
    napi_throw_error(env, "VF_SHM", "cannot create an external ArrayBuffer");
    return NULL;
  }
  // See EXTERNAL_SHARE: V8 has counted all of it; take back what the mapping does not cost (given
  // back in unmap, once V8 has uncounted the buffer).
  if (!shared) {
    int64_t ignored;
    napi_adjust_external_memory(env, -(int64_t)(length - length / EXTERNAL_SHARE), &ignored);
  }
  return buffer;
}

// The flags of /proc/self/pagemap entries (Documentation/admin-guide/mm/pagemap.rst): readable
// without privileges since Linux 4.2 (only the frame numbers are hidden, which we do not use).
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)
#define PAGEMAP_FILE_OR_SHARED (1ULL << 61)

// unwritten(arrayBuffer): whether no page of a private file mapping (a receiver's frame, from map)
// was written since it was mapped. A written page of a MAP_PRIVATE mapping becomes an anonymous
// copy: present without the file-page bit, or swapped out. A page never touched is not present,
// and one only read maps the file's own page (file bit set): both still hold the file's bytes.
// So a true answer means the file holds exactly what the buffer shows, and forwarding a link to the
// file forwards these bytes. Throws where pagemap cannot be read (the caller then copies).
static napi_value unwritten(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void* data = NULL;
  size_t length = 0;
  bool is_buffer = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_is_arraybuffer(env, argv[0], &is_buffer) != napi_ok ||
      !is_buffer || napi_get_arraybuffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "unwritten(arrayBuffer)");
    return NULL;
  }
  bool clean = true;
  if (length > 0) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = (uintptr_t)data / page;
    uintptr_t end = ((uintptr_t)data + length + page - 1) / page;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return throw_errno(env, "open /proc/self/pagemap", errno);
    uint64_t entries[512];
    for (uintptr_t at = first; clean && at < end;) {
      size_t wanted = end - at < 512 ? (size_t)(end - at) : 512;
      ssize_t got = pread(fd, entries, wanted * sizeof entries[0], (off_t)(at * sizeof entries[0]));
      if (got <= 0 || got % sizeof entries[0] != 0) {
        int error = got < 0 ? errno : EIO;
        close(fd);
        return throw_errno(env, "read /proc/self/pagemap", error);
      }
      size_t count = (size_t)got / sizeof entries[0];
      for (size_t index = 0; index < count; index++) {
        uint64_t entry = entries[index];
        if ((entry & PAGEMAP_SWAPPED) || ((entry & PAGEMAP_PRESENT) && !(entry & PAGEMAP_FILE_OR_SHARED))) {
          clean = false;
          break;
        }
      }
      at += count;
    }
    close(fd);
  }
  napi_value result;
  napi_get_boolean(env, clean, &result);
  return result;
}

// Heartbeats. Each says how long the main thread's event loop has not turned (its tick counter,
// cells[0], unchanged) and whether the main thread is inside node code (cells[1] > 0): the same line
// as liveness.ts's worker thread writes, `{"v":4,"type":"heartbeat","stalledMs":n,"inNode":b}`.
// The version is the control protocol's (CONTROL_PROTOCOL_VERSION in src/runtime/controlProtocol.ts),
// exported as `heartbeatProtocol`: a task whose helper was built from another version's source
// (not rebuilt since) takes its heartbeats from a worker thread instead (src/runtime/liveness.ts).
#define HEARTBEAT_PROTOCOL 6
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
typedef struct {
  int fd;
  int period_ms;
  int32_t* cells;
  int32_t seen;
  int64_t changed_at;
  // Set by the main thread (stop); the thread exits at its next wake-up. Never freed: stop may come
  // after the thread has ended on its own (the host gone), and there is one per process.
  int stop;
} Beats;

static int64_t monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

// Writes the whole line, waiting while the pipe is full; false once the host's end is gone (EPIPE:
// Node ignores SIGPIPE) or the descriptor fails otherwise: then beating stops, silently.
static bool write_line(int fd, const char* line, size_t length) {
  while (length > 0) {
    ssize_t written = write(fd, line, length);
    if (written > 0) {
      line += written;
      length -= (size_t)written;
    } else if (written < 0 && errno == EINTR) {
      continue;
    } else if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd writable = {.fd = fd, .events = POLLOUT};
      poll(&writable, 1, 5);
    } else {
      return false;
    }
  }
  return true;
}

// One heartbeat: the mark first, then the ticks (the main thread bumps the ticks before it drops the mark).
static bool beat(Beats* beats) {
  bool in_node = __atomic_load_n(&beats->cells[1], __ATOMIC_SEQ_CST) > 0;
  int32_t ticks = __atomic_load_n(&beats->cells[0], __ATOMIC_SEQ_CST);
  int64_t now = monotonic_ms();
  if (ticks != beats->seen) {
    beats->seen = ticks;
    beats->changed_at = now;
  }
  char line[128];
  int length = snprintf(line, sizeof line, "{\"v\":" STRINGIFY(HEARTBEAT_PROTOCOL) ",\"type\":\"heartbeat\",\"stalledMs\":%lld,\"inNode\":%s}\n",
                        (long long)(now - beats->changed_at), in_node ? "true" : "false");
  return write_line(beats->fd, line, (size_t)length);
}

// How long a task whose host is gone (EPIPE on the heartbeat pipe) may still run before this thread
// ends it: its main thread aborts and exits within 1.5 s (ORPHAN_EXIT_MS, taskProcess.ts) unless it
// is stuck in synchronous code, where it would never notice, and would run on, orphaned, forever.
#define ORPHAN_KILL_MS 5000

static void* beat_loop(void* argument) {
  Beats* beats = argument;
  struct timespec due;
  clock_gettime(CLOCK_MONOTONIC, &due);
  for (;;) {
    due.tv_nsec += (long)(beats->period_ms % 1000) * 1000000L;
    due.tv_sec += beats->period_ms / 1000 + due.tv_nsec / 1000000000L;
    due.tv_nsec %= 1000000000L;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR) {
    }
    if (__atomic_load_n(&beats->stop, __ATOMIC_SEQ_CST)) break;
    if (!beat(beats)) {
      if (errno != EPIPE) break;
      // The host is gone. Stopped meanwhile (the task finished), or gone with the process: fine.
      struct timespec grace = {.tv_sec = ORPHAN_KILL_MS / 1000, .tv_nsec = (ORPHAN_KILL_MS % 1000) * 1000000L};
      while (nanosleep(&grace, &grace) != 0 && errno == EINTR) {
      }
      if (!__atomic_load_n(&beats->stop, __ATOMIC_SEQ_CST)) kill(getpid(), SIGKILL);
      break;
    }
  }
  return NULL;
}

// startHeartbeats(fd, periodMs, cells): writes one heartbeat now, then one every periodMs from a
// thread of its own, reading cells (an Int32Array of two over a SharedArrayBuffer, kept alive for
// the process's life). Returns a handle for stopHeartbeats. Throws when the first write fails, but
// for EPIPE (the host gone).
static napi_value start_heartbeats(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd = -1;
  int32_t period_ms = 0;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &period_ms) != napi_ok || fd < 0 || period_ms < 1 ||
      napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array || length < 2) {
    napi_throw_type_error(env, NULL, "startHeartbeats(fd, periodMs, cells: Int32Array(2))");
    return NULL;
  }
  // The cells must outlive the thread, which never says when it is done with them: never released.
  napi_ref keep;
  if (napi_create_reference(env, argv[2], 1, &keep) != napi_ok) {
    napi_throw_error(env, "VF_HEARTBEAT", "cannot keep the activity cells");
    return NULL;
  }
  Beats* beats = calloc(1, sizeof(Beats));
  if (beats == NULL) return throw_errno(env, "calloc", ENOMEM);
  beats->fd = fd;
  beats->period_ms = period_ms;
  beats->cells = data;
  beats->seen = __atomic_load_n(&beats->cells[0], __ATOMIC_SEQ_CST);
  beats->changed_at = monotonic_ms();
  // EPIPE: the host is gone already (killed as this task started). Not an error to report: the
  // thread starts anyway, finds the pipe broken at its first beat, and ends the task if it is still
  // running ORPHAN_KILL_MS later, as for a host that goes at any other time.
  if (!beat(beats) && errno != EPIPE) {
    int error = errno;
    free(beats);
    return throw_errno(env, "heartbeat", error);
  }
  // Signals stay with the main thread (Node's handlers): the thread starts with all of them blocked.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attributes, 64 * 1024);
  pthread_t thread;
  int error = pthread_create(&thread, &attributes, beat_loop, beats);
  pthread_attr_destroy(&attributes);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  if (error != 0) {
    free(beats);
    return throw_errno(env, "pthread_create", error);
  }
  napi_value handle;
  if (napi_create_external(env, beats, NULL, NULL, &handle) != napi_ok) {
    napi_throw_error(env, "VF_HEARTBEAT", "cannot create the heartbeat handle");
    return NULL;
  }
  return handle;
}

// The one argument of a function that takes a handle (an external from this helper).
static bool one_external_argument(napi_env env, napi_callback_info info, void** data) {
  size_t argc = 1;
  napi_value argv[1];
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1 && napi_get_value_external(env, argv[0], data) == napi_ok;
}

// stopHeartbeats(handle): no heartbeat after the current one; the thread ends within a period.
static napi_value stop_heartbeats(napi_env env, napi_callback_info info) {
  void* beats = NULL;
  if (!one_external_argument(env, info, &beats)) {
    napi_throw_type_error(env, NULL, "stopHeartbeats(handle)");
    return NULL;
  }
  __atomic_store_n(&((Beats*)beats)->stop, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

// Shared rings (packages/core/src/transport/sharedRing.ts): the cells two processes hand over with.
// V8 may compile Atomics on an ArrayBuffer that is not a SharedArrayBuffer as plain memory accesses
// (no other agent can see such memory, as far as JavaScript knows): a compare-and-swap there can
// lose a concurrent write of the other process, and a read can move before a write. These are real
// atomic operations, sequentially consistent, on the 32-bit cell `index` of a mapped ring.
enum { CELL_LOAD, CELL_STORE, CELL_ADD, CELL_OR, CELL_AND };

// cell(arrayBuffer, index, op, operand): the cell's value before the operation (for a load, its value).
static napi_value ring_cell(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void* data = NULL;
  size_t length = 0;
  bool is_buffer = false;
  uint32_t index = 0;
  int32_t op = 0;
  int32_t operand = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 || napi_is_arraybuffer(env, argv[0], &is_buffer) != napi_ok ||
      !is_buffer || napi_get_arraybuffer_info(env, argv[0], &data, &length) != napi_ok || napi_get_value_uint32(env, argv[1], &index) != napi_ok ||
      napi_get_value_int32(env, argv[2], &op) != napi_ok || napi_get_value_int32(env, argv[3], &operand) != napi_ok ||
      (size_t)index * 4 + 4 > length) {
    napi_throw_type_error(env, NULL, "cell(arrayBuffer, index, op, operand)");
    return NULL;
  }
  int32_t* cell = (int32_t*)data + index;
  int32_t before;
  switch (op) {
    case CELL_LOAD:
      before = __atomic_load_n(cell, __ATOMIC_SEQ_CST);
      break;
    case CELL_STORE:
      before = __atomic_exchange_n(cell, operand, __ATOMIC_SEQ_CST);
      break;
    case CELL_ADD:
      before = (int32_t)__atomic_fetch_add((uint32_t*)cell, (uint32_t)operand, __ATOMIC_SEQ_CST);
      break;
    case CELL_OR:
      before = __atomic_fetch_or(cell, operand, __ATOMIC_SEQ_CST);
      break;
    case CELL_AND:
      before = __atomic_fetch_and(cell, operand, __ATOMIC_SEQ_CST);
      break;
    default:
      napi_throw_range_error(env, NULL, "cell: unknown operation");
      return NULL;
  }
  napi_value result;
  napi_create_int32(env, before, &result);
  return result;
}

// The one argument of a call, a non-empty string that fits in `text` (`size` bytes, NUL included).
static bool one_string_argument(napi_env env, napi_callback_info info, char* text, size_t size) {
  size_t argc = 1;
  napi_value argv[1];
  size_t length = 0;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1 &&
         napi_get_value_string_utf8(env, argv[0], text, size, &length) == napi_ok && length > 0 && length < size - 1;
}

// makeFifo(path): creates a FIFO (mode 0600) at `path`, which must not exist. A task's bell
// (src/transport/ringBell.ts): other tasks write a byte to it to wake the task, one wake-up of its
// event loop, where a ZeroMQ message wakes an I/O thread on each side too. Node has no mkfifo.
static napi_value make_fifo(napi_env env, napi_callback_info info) {
  char path[4096];
  if (!one_string_argument(env, info, path, sizeof path)) {
    napi_throw_type_error(env, NULL, "makeFifo(path)");
    return NULL;
  }
  if (mkfifo(path, 0600) != 0) return throw_errno(env, path, errno);
  return NULL;
}

// ringBell(fd): writes one byte to a bell's FIFO, opened non-blocking by the ringer
// (src/transport/ringBell.ts). Never throws: EAGAIN (bytes wait unread: the listener wakes anyway)
// and EPIPE (the listener is gone; Node ignores SIGPIPE) need nothing. fs.writeSync ran Node's
// argument checks and error plumbing in JavaScript around the same write: a paced hop rings cold.
static napi_value ring_bell(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "ringBell(fd)");
    return NULL;
  }
  static const char byte = '!';
  while (write(fd, &byte, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

#if defined(VF_UV_BELL)
// A JavaScript function that a libuv callback of this helper calls (a bell's onRing, a spawned
// process's onExit): a reference that keeps it, and the async context it runs in.
typedef struct {
  napi_env env;
  napi_ref function;
  napi_async_context context;
} LoopCallback;

// Keeps `function` for loop_callback_call, its async resource named `name`; false (nothing kept) on failure.
static bool loop_callback_init(napi_env env, napi_value function, const char* name, LoopCallback* callback) {
  napi_value resource_name;
  callback->env = env;
  callback->function = NULL;
  callback->context = NULL;
  if (napi_create_reference(env, function, 1, &callback->function) == napi_ok &&
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) == napi_ok &&
      napi_async_init(env, NULL, resource_name, &callback->context) == napi_ok)
    return true;
  if (callback->function != NULL) napi_delete_reference(env, callback->function);
  return false;
}

static void loop_callback_release(LoopCallback* callback) {
  napi_delete_reference(callback->env, callback->function);
  napi_async_destroy(callback->env, callback->context);
}

// Calls the function with `argc` integer arguments, in its async context. An exception it throws is
// the process's 'uncaughtException', as in any event-loop callback.
static void loop_callback_call(LoopCallback* callback, size_t argc, const int32_t* args) {
  napi_env env = callback->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value function;
  napi_value receiver;
  napi_value argv[2];
  napi_value ignored;
  bool ready = argc <= 2 && napi_get_reference_value(env, callback->function, &function) == napi_ok &&
               napi_get_global(env, &receiver) == napi_ok;
  for (size_t index = 0; ready && index < argc; index++) ready = napi_create_int32(env, args[index], &argv[index]) == napi_ok;
  if (ready && napi_make_callback(env, callback->context, receiver, function, argc, argv, &ignored) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

// A descriptor watched for reading on the event loop (uv_poll), with the JavaScript function its
// libuv callback calls: a bell's FIFO, a spawned process's pidfd. The watch owns the descriptor. It
// starts the struct of its owner, so that the handle's data, and the watch, are the owner.
typedef struct {
  uv_poll_t poll;
  int fd;
  LoopCallback callback;
} FdWatch;

// Watches `fd` for reading on `loop`: `on_readable` runs at each wake-up, `function` is what it calls
// (an async resource named `name`). `watch` starts a calloc'd owner whose handle closes through
// `on_closed`. On failure it throws (`caller` names the call) and releases everything, the owner
// included (freed here, or by `on_closed` once libuv has let go of the handle): false.
static bool fd_watch_start(napi_env env, uv_loop_t* loop, FdWatch* watch, int fd, napi_value function, const char* name,
                           const char* caller, uv_poll_cb on_readable, uv_close_cb on_closed) {
  watch->fd = fd;
  int error = 0;
  if (!loop_callback_init(env, function, name, &watch->callback) || (error = uv_poll_init(loop, &watch->poll, fd)) != 0) {
    if (error != 0) loop_callback_release(&watch->callback);
    close(fd);
    free(watch);
    char message[128];
    snprintf(message, sizeof message, "%s: cannot set up the callback", caller);
    napi_throw_error(env, "VF_SHM", error != 0 ? uv_strerror(error) : message);
    return false;
  }
  watch->poll.data = watch;
  if ((error = uv_poll_start(&watch->poll, UV_READABLE, on_readable)) != 0) {
    uv_close((uv_handle_t*)&watch->poll, on_closed);
    napi_throw_error(env, "VF_SHM", uv_strerror(error));
    return false;
  }
  return true;
}

// What a watch's owner releases as its handle closes: the callback and the descriptor.
static void fd_watch_release(FdWatch* watch) {
  loop_callback_release(&watch->callback);
  close(watch->fd);
}

// listenBell(path, onRing): listens to the FIFO at `path` (a task's bell, made by makeFifo) on the
// event loop itself (uv_poll), drains it and calls onRing() once per wake-up; the handle does not
// keep the loop alive. Returns a handle for closeBell. What a net.Socket over the FIFO did in
// JavaScript (a read into a new Buffer, the stream's push and 'data' machinery) on every wake-up is
// one read(2) here: a paced hop runs that path cold each time (packages/core/src/transport/ringBell.ts).
typedef struct {
  FdWatch watch; // first: see FdWatch
} Bell;

static void bell_closed(uv_handle_t* handle) {
  Bell* bell = handle->data;
  fd_watch_release(&bell->watch);
  free(bell);
}

static void bell_rang(uv_poll_t* handle, int status, int events) {
  (void)events;
  Bell* bell = handle->data;
  if (status < 0) {
    // No more wake-ups by bell: the task's own waits are bounded.
    uv_poll_stop(&bell->watch.poll);
    return;
  }
  // A read that returns less than it asked for emptied the FIFO: one system call per wake-up, where
  // reading until EAGAIN took two. A ring that lands after it is a wake-up of its own (level-triggered).
  char drained[64];
  ssize_t got;
  do {
    got = read(bell->watch.fd, drained, sizeof drained);
  } while (got == (ssize_t)sizeof drained || (got < 0 && errno == EINTR));
  loop_callback_call(&bell->watch.callback, 0, NULL);
}

static napi_value listen_bell(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[4096];
  size_t path_length = 0;
  napi_valuetype type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_length) != napi_ok || path_length == 0 ||
      path_length >= sizeof path - 1 || napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "listenBell(path, onRing)");
    return NULL;
  }
  uv_loop_t* loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) {
    napi_throw_error(env, "VF_SHM", "listenBell: no event loop");
    return NULL;
  }
  // Read-write: the FIFO never reads as ended (no ringer yet, or every ringer gone), and opening
  // does not wait for a writer.
  int fd = open(path, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, path, errno);
  Bell* bell = calloc(1, sizeof(Bell));
  if (bell == NULL) {
    close(fd);
    return throw_errno(env, "calloc", ENOMEM);
  }
  if (!fd_watch_start(env, loop, &bell->watch, fd, argv[1], "vf:bell", "listenBell", bell_rang, bell_closed)) return NULL;
  uv_unref((uv_handle_t*)&bell->watch.poll);
  napi_value handle;
  if (napi_create_external(env, bell, NULL, NULL, &handle) != napi_ok) {
    uv_close((uv_handle_t*)&bell->watch.poll, bell_closed);
    napi_throw_error(env, "VF_SHM", "listenBell: cannot create its handle");
    return NULL;
  }
  return handle;
}

// closeBell(handle): stops listening; the FIFO's descriptor closes, and the handle's memory goes,
// once the loop let go of it. Only once per handle: ringBell.ts's BellListener makes sure.
static napi_value close_bell(napi_env env, napi_callback_info info) {
  void* bell = NULL;
  if (!one_external_argument(env, info, &bell)) {
    napi_throw_type_error(env, NULL, "closeBell(handle)");
    return NULL;
  }
  uv_poll_stop(&((Bell*)bell)->watch.poll);
  uv_close((uv_handle_t*)&((Bell*)bell)->watch.poll, bell_closed);
  return NULL;
}

// watchLoopTurns(): an ArrayBuffer of two float64 cells, which a uv_check handle updates at every
// turn of this thread's event loop (its check phase, where setImmediate callbacks run): [0] counts
// the turns, [1] is when the last one came (uv_hrtime, in ms). A task loop that never awaits
// anything slow asks after every input whether it starves the event loop
// (src/runtime/waiting.ts); a setImmediate marker scheduled for that cost every paced hop an
// immediate and a clock read in JavaScript, run cold (perf, an 8-hop E3 chain: ~55 µs of CPU per
// hop). Here a loop that turned since its last question costs one load. The handle does not keep
// the loop alive, and goes with its environment (a worker thread's, or the process's).
typedef struct {
  uv_check_t check;
  double* cells;
  napi_ref buffer;
  napi_async_cleanup_hook_handle cleanup;
} TurnWatch;

static void loop_turned(uv_check_t* handle) {
  TurnWatch* watch = handle->data;
  watch->cells[0] += 1;
  watch->cells[1] = (double)uv_hrtime() / 1e6;
}

static void turn_watch_closed(uv_handle_t* handle) {
  TurnWatch* watch = handle->data;
  napi_remove_async_cleanup_hook(watch->cleanup);
  free(watch);
}

static void turn_watch_cleanup(napi_async_cleanup_hook_handle cleanup, void* data) {
  (void)cleanup;
  TurnWatch* watch = data;
  uv_check_stop(&watch->check);
  uv_close((uv_handle_t*)&watch->check, turn_watch_closed);
}

static napi_value watch_loop_turns(napi_env env, napi_callback_info info) {
  (void)info;
  uv_loop_t* loop = NULL;
  void* data = NULL;
  napi_value buffer;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL ||
      napi_create_arraybuffer(env, 2 * sizeof(double), &data, &buffer) != napi_ok) {
    napi_throw_error(env, "VF_SHM", "watchLoopTurns: no event loop");
    return NULL;
  }
  TurnWatch* watch = calloc(1, sizeof(TurnWatch));
  if (watch == NULL) return throw_errno(env, "calloc", ENOMEM);
  watch->cells = data;
  watch->cells[0] = 0;
  watch->cells[1] = (double)uv_hrtime() / 1e6;
  int error = 0;
  // The reference keeps the cells' buffer as long as the handle writes to it.
  if (napi_create_reference(env, buffer, 1, &watch->buffer) != napi_ok || (error = uv_check_init(loop, &watch->check)) != 0) {
    if (watch->buffer != NULL) napi_delete_reference(env, watch->buffer);
    free(watch);
    napi_throw_error(env, "VF_SHM", error != 0 ? uv_strerror(error) : "watchLoopTurns: cannot keep its buffer");
    return NULL;
  }
  watch->check.data = watch;
  uv_check_start(&watch->check, loop_turned);
  uv_unref((uv_handle_t*)&watch->check);
  napi_add_async_cleanup_hook(env, turn_watch_cleanup, watch, &watch->cleanup);
  return buffer;
}

// spawnProcess(file, args, env, fds, onExit): starts `file` with `args` (argv[0] included) and
// `env` ("NAME=value" strings) in a session of its own, its descriptor i made from this process's
// fds[i] (-1: /dev/null), through posix_spawn: glibc's runs the child on this process's memory
// until it execs (CLONE_VM | CLONE_VFORK), where libuv's spawn (child_process) forks, copying the
// host's page tables for the child to throw away at its exec. Measured on the 2-core bench VM, a
// host of ~95 MB starting a task took 10-40 ms of its thread per task with child_process.spawn,
// under the CPU its earlier tasks took booting. Calls onExit(code, signal) once the process has
// ended and is reaped (code -1 when a signal ended it; signal 0 when none did): its pidfd is
// watched on the event loop, which it keeps alive meanwhile, as a ChildProcess does. libuv reaps
// only the processes it started, so this one is left to this watch. Returns the pid.
#if defined(POSIX_SPAWN_SETSID)
#if !defined(SYS_pidfd_open)
#define SYS_pidfd_open 434
#endif
#define SPAWN_MAX_FDS 16

typedef struct {
  FdWatch watch; // first (see FdWatch): the process's pidfd, and onExit
  pid_t pid;
  napi_async_cleanup_hook_handle cleanup;
} Spawned;

static void spawned_closed(uv_handle_t* handle) {
  Spawned* spawned = handle->data;
  if (spawned->cleanup != NULL) napi_remove_async_cleanup_hook(spawned->cleanup);
  fd_watch_release(&spawned->watch);
  free(spawned);
}

// The environment ends (a worker thread's) with the process still running: it is no longer watched,
// as a ChildProcess's handle is closed with its environment; the process runs on.
static void spawned_cleanup(napi_async_cleanup_hook_handle cleanup, void* data) {
  (void)cleanup;
  Spawned* spawned = data;
  uv_poll_stop(&spawned->watch.poll);
  uv_close((uv_handle_t*)&spawned->watch.poll, spawned_closed);
}

static void spawned_exited(uv_poll_t* handle, int status, int events) {
  (void)events;
  Spawned* spawned = handle->data;
  int wait_status = 0;
  pid_t reaped;
  do {
    reaped = waitpid(spawned->pid, &wait_status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  // A pidfd reads as ready only once its process has ended; 0 would be a spurious wake-up.
  if (reaped == 0 && status >= 0) return;
  if (reaped == 0) {
    // The watch failed (never seen): a process nobody can see end is ended now, and reported so.
    kill(spawned->pid, SIGKILL);
    do {
      reaped = waitpid(spawned->pid, &wait_status, 0);
    } while (reaped < 0 && errno == EINTR);
  }
  uv_poll_stop(&spawned->watch.poll);
  int code = -1;
  int signal_number = 0;
  if (reaped == spawned->pid) {
    if (WIFEXITED(wait_status)) code = WEXITSTATUS(wait_status);
    else if (WIFSIGNALED(wait_status)) signal_number = WTERMSIG(wait_status);
  }
  const int32_t outcome[2] = {code, signal_number};
  loop_callback_call(&spawned->watch.callback, 2, outcome);
  uv_close((uv_handle_t*)&spawned->watch.poll, spawned_closed);
}

// A JavaScript array of strings as a NULL-terminated array of C strings (one allocation each); NULL on failure.
static char** string_array(napi_env env, napi_value array, char* first) {
  uint32_t length = 0;
  bool is_array = false;
  if (napi_is_array(env, array, &is_array) != napi_ok || !is_array || napi_get_array_length(env, array, &length) != napi_ok) return NULL;
  uint32_t offset = first == NULL ? 0 : 1;
  char** strings = calloc((size_t)length + offset + 1, sizeof(char*));
  if (strings == NULL) return NULL;
  if (first != NULL && (strings[0] = strdup(first)) == NULL) {
    free(strings);
    return NULL;
  }
  for (uint32_t index = 0; index < length; index++) {
    napi_value item;
    size_t size = 0;
    if (napi_get_element(env, array, index, &item) != napi_ok || napi_get_value_string_utf8(env, item, NULL, 0, &size) != napi_ok ||
        (strings[index + offset] = malloc(size + 1)) == NULL ||
        napi_get_value_string_utf8(env, item, strings[index + offset], size + 1, &size) != napi_ok) {
      for (uint32_t freed = 0; freed <= index + offset; freed++) free(strings[freed]);
      free(strings);
      return NULL;
    }
  }
  return strings;
}

static void free_strings(char** strings) {
  if (strings == NULL) return;
  for (char** string = strings; *string != NULL; string++) free(*string);
  free(strings);
}

static void end_unwatched(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}

static napi_value spawn_process(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  char file[4096];
  size_t file_length = 0;
  napi_valuetype type = napi_undefined;
  uint32_t fd_count = 0;
  bool is_array = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 ||
      napi_get_value_string_utf8(env, argv[0], file, sizeof file, &file_length) != napi_ok || file_length == 0 ||
      file_length >= sizeof file - 1 || napi_is_array(env, argv[3], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[3], &fd_count) != napi_ok || fd_count > SPAWN_MAX_FDS ||
      napi_typeof(env, argv[4], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "spawnProcess(file, args, env, fds, onExit)");
    return NULL;
  }
  int sources[SPAWN_MAX_FDS];
  for (uint32_t index = 0; index < fd_count; index++) {
    napi_value item;
    if (napi_get_element(env, argv[3], index, &item) != napi_ok || napi_get_value_int32(env, item, &sources[index]) != napi_ok) {
      napi_throw_type_error(env, NULL, "spawnProcess: fds must be integers");
      return NULL;
    }
  }
  uv_loop_t* loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) {
    napi_throw_error(env, "VF_SHM", "spawnProcess: no event loop");
    return NULL;
  }
  char** args = string_array(env, argv[1], file);
  char** environment = string_array(env, argv[2], NULL);
  if (args == NULL || environment == NULL) {
    free_strings(args);
    free_strings(environment);
    napi_throw_type_error(env, NULL, "spawnProcess: args and env must be arrays of strings");
    return NULL;
  }
  // Each source is copied above the targets first: a dup2 onto a target must not replace the source
  // of a later one, and a descriptor already at its target (dup2 onto itself) would keep its
  // close-on-exec flag. The copies are close-on-exec, and closed once the child has exec'd.
  int copies[SPAWN_MAX_FDS];
  int error = 0;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  for (uint32_t index = 0; index < fd_count; index++) {
    copies[index] = -1;
    if (error != 0) continue;
    if (sources[index] < 0) {
      error = posix_spawn_file_actions_addopen(&actions, (int)index, "/dev/null", O_RDWR, 0);
    } else if ((copies[index] = fcntl(sources[index], F_DUPFD_CLOEXEC, (int)fd_count)) < 0) {
      error = errno;
    } else {
      error = posix_spawn_file_actions_adddup2(&actions, copies[index], (int)index);
    }
  }
  // The child starts with no signal blocked and every signal at its default, as libuv's does.
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  if (error == 0) error = posix_spawnattr_setsigmask(&attributes, &none);
  if (error == 0) error = posix_spawnattr_setsigdefault(&attributes, &all);
  if (error == 0) error = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  if (error == 0) error = posix_spawn(&pid, file, &actions, &attributes, args, environment);
  for (uint32_t index = 0; index < fd_count; index++) {
    if (copies[index] >= 0) close(copies[index]);
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  free_strings(args);
  free_strings(environment);
  if (error != 0) return throw_errno(env, file, error);
  // Started but not watched, nobody would learn of its end: it is ended before it has run a line.
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    int pidfd_error = errno;
    end_unwatched(pid);
    return throw_errno(env, "spawnProcess: pidfd_open", pidfd_error);
  }
  Spawned* spawned = calloc(1, sizeof(Spawned));
  if (spawned == NULL) {
    close(pidfd);
    end_unwatched(pid);
    return throw_errno(env, "calloc", ENOMEM);
  }
  spawned->pid = pid;
  if (!fd_watch_start(env, loop, &spawned->watch, pidfd, argv[4], "vf:spawned", "spawnProcess", spawned_exited, spawned_closed)) {
    end_unwatched(pid);
    return NULL;
  }
  napi_add_async_cleanup_hook(env, spawned_cleanup, spawned, &spawned->cleanup);
  napi_value result;
  if (napi_create_int32(env, pid, &result) != napi_ok) return NULL;
  return result;
}

// makeSocketPair(): the two ends of a connected Unix stream socket pair, both close-on-exec: one
// of a task's stdio and control channels (spawnProcess), as libuv makes a ChildProcess's pipes.
static napi_value make_socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return throw_errno(env, "socketpair", errno);
  napi_value result;
  napi_value end;
  if (napi_create_array_with_length(env, 2, &result) != napi_ok) return NULL;
  for (uint32_t index = 0; index < 2; index++) {
    if (napi_create_int32(env, fds[index], &end) != napi_ok || napi_set_element(env, result, index, end) != napi_ok) return NULL;
  }
  return result;
}

// Whether this kernel has pidfd_open (Linux 5.3): spawnProcess exists only where it can watch.
static bool has_pidfd(void) {
  int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (pidfd < 0) return false;
  close(pidfd);
  return true;
}
#endif
#endif

// copyStreaming(target, source): copies the bytes of `source` (a Uint8Array) to the start of
// `target` (a Uint8Array at least as long) with non-temporal stores on x86-64: a frame written into
// a pool segment is read by other processes, not by this core, and the stores that bypass the cache
// neither read the destination's lines first nor evict the sender's working set. glibc's memcpy
// streams only past a threshold from the L3 size, which a VM may report as the host's (300 MB here):
// measured, a 6 MB frame into one of 30 pool segments in turn took 0.88-1.0 ms with memcpy
// (TypedArray set), 0.50-0.55 ms streamed. Elsewhere: memcpy.
static void copy_streaming(uint8_t* target, const uint8_t* source, size_t length) {
#if defined(__x86_64__)
  size_t head = (16 - ((uintptr_t)target & 15)) & 15;
  if (head > length) head = length;
  memcpy(target, source, head);
  target += head;
  source += head;
  length -= head;
  size_t blocks = length / 64;
  for (size_t block = 0; block < blocks; block++) {
    __m128i a = _mm_loadu_si128((const __m128i*)source);
    __m128i b = _mm_loadu_si128((const __m128i*)(source + 16));
    __m128i c = _mm_loadu_si128((const __m128i*)(source + 32));
    __m128i d = _mm_loadu_si128((const __m128i*)(source + 48));
    _mm_stream_si128((__m128i*)target, a);
    _mm_stream_si128((__m128i*)(target + 16), b);
    _mm_stream_si128((__m128i*)(target + 32), c);
    _mm_stream_si128((__m128i*)(target + 48), d);
    source += 64;
    target += 64;
  }
  // Ordered before the stores that publish the frame (its ring entry), as ordinary stores are.
  _mm_sfence();
  length -= blocks * 64;
#endif
  memcpy(target, source, length);
}

static bool bytes_of(napi_env env, napi_value value, uint8_t** data, size_t* length) {
  napi_typedarray_type type;
  bool is_typed = false;
  return napi_is_typedarray(env, value, &is_typed) == napi_ok && is_typed &&
         napi_get_typedarray_info(env, value, &type, length, (void**)data, NULL, NULL) == napi_ok &&
         (type == napi_uint8_array || type == napi_uint8_clamped_array);
}

static napi_value copy_streaming_fn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint8_t* target = NULL;
  uint8_t* source = NULL;
  size_t target_length = 0;
  size_t source_length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || !bytes_of(env, argv[0], &target, &target_length) ||
      !bytes_of(env, argv[1], &source, &source_length) || source_length > target_length) {
    napi_throw_type_error(env, NULL, "copyStreaming(target: Uint8Array, source: Uint8Array no longer than target)");
    return NULL;
  }
  if (source_length > 0) copy_streaming(target, source, source_length);
  return NULL;
}

// resetV8Flags(flags): V8's own v8::V8::SetFlagsFromString(flags), found in the node executable at
// run time; false (nothing done) where node does not export it. What node:v8's setFlagsFromString
// calls, without loading node:v8 first: native/taskPreload.cjs sets a task's heap options back to
// V8's defaults before any built-in module loads (see there).
static napi_value reset_v8_flags(napi_env env, napi_callback_info info) {
  char flags[256];
  if (!one_string_argument(env, info, flags, sizeof flags)) {
    napi_throw_type_error(env, NULL, "resetV8Flags(flags: a string of 1 to 254 bytes)");
    return NULL;
  }
  void (*set_flags)(const char*) = (void (*)(const char*))dlsym(RTLD_DEFAULT, "_ZN2v82V818SetFlagsFromStringEPKc");
  if (set_flags != NULL) set_flags(flags);
  napi_value done;
  napi_get_boolean(env, set_flags != NULL, &done);
  return done;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "map", NAPI_AUTO_LENGTH, map_segment, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "map", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "unwritten", NAPI_AUTO_LENGTH, unwritten, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "unwritten", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "startHeartbeats", NAPI_AUTO_LENGTH, start_heartbeats, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "startHeartbeats", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "stopHeartbeats", NAPI_AUTO_LENGTH, stop_heartbeats, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "stopHeartbeats", fn) != napi_ok) return NULL;
  napi_value protocol;
  if (napi_create_int32(env, HEARTBEAT_PROTOCOL, &protocol) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "heartbeatProtocol", protocol) != napi_ok) return NULL;
  if (napi_create_function(env, "cell", NAPI_AUTO_LENGTH, ring_cell, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "cell", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "makeFifo", NAPI_AUTO_LENGTH, make_fifo, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "makeFifo", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "resetV8Flags", NAPI_AUTO_LENGTH, reset_v8_flags, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "resetV8Flags", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "copyStreaming", NAPI_AUTO_LENGTH, copy_streaming_fn, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "copyStreaming", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "ringBell", NAPI_AUTO_LENGTH, ring_bell, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "ringBell", fn) != napi_ok) return NULL;
#if defined(VF_UV_BELL)
  if (napi_create_function(env, "listenBell", NAPI_AUTO_LENGTH, listen_bell, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "listenBell", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "closeBell", NAPI_AUTO_LENGTH, close_bell, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "closeBell", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "watchLoopTurns", NAPI_AUTO_LENGTH, watch_loop_turns, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "watchLoopTurns", fn) != napi_ok) return NULL;
#if defined(POSIX_SPAWN_SETSID)
  if (has_pidfd()) {
    if (napi_create_function(env, "spawnProcess", NAPI_AUTO_LENGTH, spawn_process, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, "spawnProcess", fn) != napi_ok) return NULL;
    if (napi_create_function(env, "makeSocketPair", NAPI_AUTO_LENGTH, make_socket_pair, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, "makeSocketPair", fn) != napi_ok) return NULL;
  }
#endif
#endif
  return exports;
}
