/* SPDX-License-Identifier: MIT */
/* The registry of named tasks and initializers (cfutures/registry.h): every
 * public function, its errors and edge cases, and lock-free lookups racing
 * registrations. Check forks each test, so a name registered in one test is
 * gone in the next; names are unique within a test all the same. */
#include "harness.h"

#include <cfutures/process_pool.h>
#include <cfutures/registry.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* Tasks ------------------------------------------------------------------- */

/* Distinct bodies, so that no compiler folds two of them into one address. */
static int t_a(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "a", 1);
}

static int t_b(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "bb", 2);
}

static int t_c(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "ccc", 3);
}

static int t_never(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "never", 5);
}

static int t_upper(const void *in, size_t len, cf_buffer *out) {
  int rc = cf_buffer_reserve(out, len);
  if (rc != 0)
    return rc;
  const unsigned char *p = in;
  for (size_t i = 0; i < len; i++)
    out->data[i] =
        p[i] >= 'a' && p[i] <= 'z' ? (unsigned char)(p[i] - 32) : p[i];
  out->len = len;
  return 0;
}

static int i_a(const void *arg, size_t len) {
  return 0;
}

static int i_b(const void *arg, size_t len) {
  return (int)len;
}

static int i_never(const void *arg, size_t len) {
  return 1;
}

/* Registered before main runs. */
CF_TASK("rg.macro_task", t_upper)
CF_INITIALIZER("rg.macro_init", i_a)

/* Basics ------------------------------------------------------------------ */

START_TEST(test_round_trip) {
  ck_assert_int_eq(cf_task_register("rg.round", t_a), 0);
  cf_bytes_fn fn = NULL;
  ck_assert_int_eq(cf_task_lookup("rg.round", &fn), 0);
  ck_assert_ptr_eq((void *)fn, (void *)t_a);
  const char *n = cf_task_name(t_a);
  ck_assert_ptr_nonnull(n);
  ck_assert_str_eq(n, "rg.round");
  ck_assert_ptr_eq(cf_task_name(t_a), n); /* static storage, the same */

  ck_assert_int_eq(cf_initializer_register("rg.round_init", i_b), 0);
  cf_bytes_init_fn ifn = NULL;
  ck_assert_int_eq(cf_initializer_lookup("rg.round_init", &ifn), 0);
  ck_assert_ptr_eq((void *)ifn, (void *)i_b);
  ck_assert_str_eq(cf_initializer_name(i_b), "rg.round_init");
}
END_TEST

START_TEST(test_same_fn_same_name_twice) {
  ck_assert_int_eq(cf_task_register("rg.twice", t_a), 0);
  ck_assert_int_eq(cf_task_register("rg.twice", t_a), 0);
  cf_bytes_fn fn = NULL;
  ck_assert_int_eq(cf_task_lookup("rg.twice", &fn), 0);
  ck_assert_ptr_eq((void *)fn, (void *)t_a);
  ck_assert_int_eq(cf_initializer_register("rg.twice_init", i_a), 0);
  ck_assert_int_eq(cf_initializer_register("rg.twice_init", i_a), 0);
  cf_bytes_init_fn ifn = NULL;
  ck_assert_int_eq(cf_initializer_lookup("rg.twice_init", &ifn), 0);
  ck_assert_ptr_eq((void *)ifn, (void *)i_a);
}
END_TEST

START_TEST(test_clash_makes_the_name_ambiguous) {
  ck_assert_int_eq(cf_task_register("rg.clash", t_a), 0);
  ck_assert_int_eq(cf_task_register("rg.clash", t_b), CF_EEXIST);
  /* A lookup must not hand out either function: the out-parameter stays. */
  cf_bytes_fn fn = t_c;
  ck_assert_int_eq(cf_task_lookup("rg.clash", &fn), CF_EEXIST);
  ck_assert_ptr_eq((void *)fn, (void *)t_c);
  /* Registering the first function again is a no-op, and undoes nothing. */
  ck_assert_int_eq(cf_task_register("rg.clash", t_a), 0);
  ck_assert_int_eq(cf_task_lookup("rg.clash", &fn), CF_EEXIST);
  ck_assert_int_eq(cf_task_register("rg.clash", t_b), CF_EEXIST);
  ck_assert_int_eq(cf_task_lookup("rg.clash", &fn), CF_EEXIST);
  /* The second function got no name. */
  ck_assert_ptr_null(cf_task_name(t_b));

  ck_assert_int_eq(cf_initializer_register("rg.clash_init", i_a), 0);
  ck_assert_int_eq(cf_initializer_register("rg.clash_init", i_b), CF_EEXIST);
  cf_bytes_init_fn ifn = i_never;
  ck_assert_int_eq(cf_initializer_lookup("rg.clash_init", &ifn), CF_EEXIST);
  ck_assert_ptr_eq((void *)ifn, (void *)i_never);
}
END_TEST

/* Tasks and initializers share one name space. */
START_TEST(test_clash_across_kinds) {
  ck_assert_int_eq(cf_task_register("rg.shared", t_a), 0);
  ck_assert_int_eq(cf_initializer_register("rg.shared", i_a), CF_EEXIST);
  cf_bytes_fn fn = NULL;
  ck_assert_int_eq(cf_task_lookup("rg.shared", &fn), CF_EEXIST);
  cf_bytes_init_fn ifn = NULL;
  ck_assert_int_ne(cf_initializer_lookup("rg.shared", &ifn), 0);
  ck_assert_ptr_null((void *)ifn);

  ck_assert_int_eq(cf_initializer_register("rg.shared2", i_b), 0);
  ck_assert_int_eq(cf_task_register("rg.shared2", t_b), CF_EEXIST);
  ck_assert_int_eq(cf_initializer_lookup("rg.shared2", &ifn), CF_EEXIST);
  ck_assert_int_ne(cf_task_lookup("rg.shared2", &fn), 0);
  ck_assert_ptr_null((void *)fn);
}
END_TEST

START_TEST(test_kinds_do_not_cross) {
  ck_assert_int_eq(cf_task_register("rg.only_task", t_a), 0);
  ck_assert_int_eq(cf_initializer_register("rg.only_init", i_a), 0);
  cf_bytes_init_fn ifn = i_never;
  ck_assert_int_eq(cf_initializer_lookup("rg.only_task", &ifn), CF_ENOENT);
  ck_assert_ptr_eq((void *)ifn, (void *)i_never);
  cf_bytes_fn fn = t_never;
  ck_assert_int_eq(cf_task_lookup("rg.only_init", &fn), CF_ENOENT);
  ck_assert_ptr_eq((void *)fn, (void *)t_never);
  /* By function too: a task's address is no initializer's name. */
  ck_assert_ptr_null(
      cf_initializer_name((cf_bytes_init_fn)(void (*)(void))t_a));
  ck_assert_ptr_null(cf_task_name((cf_bytes_fn)(void (*)(void))i_a));
}
END_TEST

START_TEST(test_unknown_names) {
  cf_bytes_fn fn = t_never;
  ck_assert_int_eq(cf_task_lookup("rg.nobody", &fn), CF_ENOENT);
  ck_assert_ptr_eq((void *)fn, (void *)t_never);
  cf_bytes_init_fn ifn = i_never;
  ck_assert_int_eq(cf_initializer_lookup("rg.nobody", &ifn), CF_ENOENT);
  ck_assert_ptr_eq((void *)ifn, (void *)i_never);
  /* A name that could never be registered is simply not there. */
  ck_assert_int_eq(cf_task_lookup("", &fn), CF_ENOENT);
  ck_assert_int_eq(cf_task_lookup("no such name", &fn), CF_ENOENT);
  ck_assert_int_eq(cf_initializer_lookup("", &ifn), CF_ENOENT);
  ck_assert_ptr_null(cf_task_name(t_never));
  ck_assert_ptr_null(cf_initializer_name(i_never));
}
END_TEST

static void expect_invalid(const char *name) {
  ck_assert_msg(cf_task_register(name, t_never) == CF_EINVAL,
                "task name '%s' accepted", name);
  ck_assert_msg(cf_initializer_register(name, i_never) == CF_EINVAL,
                "initializer name '%s' accepted", name);
  /* The library's own "cf.map_chunk" is there; nothing else is. */
  cf_bytes_fn fn = NULL;
  if (strcmp(name, "cf.map_chunk") != 0)
    ck_assert_int_eq(cf_task_lookup(name, &fn), CF_ENOENT);
}

START_TEST(test_invalid_names) {
  char n128[129], n127[128];
  memset(n128, 'x', 128);
  n128[128] = 0;
  memset(n127, 'y', 127);
  n127[127] = 0;
  ck_assert_int_eq(CF_TASK_NAME_MAX, 127);
  expect_invalid("");
  expect_invalid(n128);
  expect_invalid("has space");
  expect_invalid(" lead");
  expect_invalid("tab\t");
  expect_invalid("caf\xc3\xa9"); /* UTF-8 */
  expect_invalid("\xff");        /* not even UTF-8 */
  expect_invalid("semi;colon");
  expect_invalid("new\nline");
  expect_invalid("cf.mine");
  expect_invalid("cf.");
  expect_invalid("cf.map_chunk");
  ck_assert_ptr_null(cf_task_name(t_never));
  ck_assert_ptr_null(cf_initializer_name(i_never));

  /* The longest name and every allowed character are fine. */
  cf_bytes_fn fn = NULL;
  ck_assert_int_eq(cf_task_register(n127, t_a), 0);
  ck_assert_int_eq(cf_task_lookup(n127, &fn), 0);
  ck_assert_ptr_eq((void *)fn, (void *)t_a);
  ck_assert_str_eq(cf_task_name(t_a), n127);
  ck_assert_int_eq(cf_task_register("img/resize", t_b), 0);
  ck_assert_int_eq(cf_task_lookup("img/resize", &fn), 0);
  ck_assert_ptr_eq((void *)fn, (void *)t_b);
  ck_assert_int_eq(cf_task_register("Az09_.:/-", t_c), 0);
  ck_assert_int_eq(cf_task_lookup("Az09_.:/-", &fn), 0);
  ck_assert_ptr_eq((void *)fn, (void *)t_c);
  /* Only the "cf." prefix is reserved. */
  ck_assert_int_eq(cf_task_register("cfx.y", t_c), 0);
  ck_assert_int_eq(cf_task_register("x.cf.y", t_c), 0);
  ck_assert_int_eq(cf_initializer_register("-", i_b), 0);
  cf_bytes_init_fn ifn = NULL;
  ck_assert_int_eq(cf_initializer_lookup("-", &ifn), 0);
  ck_assert_ptr_eq((void *)ifn, (void *)i_b);
}
END_TEST

START_TEST(test_null_arguments) {
  cf_bytes_fn fn = t_never;
  cf_bytes_init_fn ifn = i_never;
  ck_assert_int_eq(cf_task_register(NULL, t_never), CF_EINVAL);
  ck_assert_int_eq(cf_task_register("rg.null_fn", NULL), CF_EINVAL);
  ck_assert_int_eq(cf_initializer_register(NULL, i_never), CF_EINVAL);
  ck_assert_int_eq(cf_initializer_register("rg.null_fn", NULL), CF_EINVAL);
  /* The refused registration left nothing behind. */
  ck_assert_int_eq(cf_task_lookup("rg.null_fn", &fn), CF_ENOENT);
  ck_assert_ptr_null(cf_task_name(t_never));
  ck_assert_ptr_null(cf_initializer_name(i_never));

  ck_assert_int_eq(cf_task_lookup(NULL, &fn), CF_EINVAL);
  ck_assert_int_eq(cf_task_lookup("rg.macro_task", NULL), CF_EINVAL);
  ck_assert_int_eq(cf_task_lookup("cf.map_chunk", NULL), CF_EINVAL);
  ck_assert_int_eq(cf_initializer_lookup(NULL, &ifn), CF_EINVAL);
  ck_assert_int_eq(cf_initializer_lookup("rg.macro_init", NULL), CF_EINVAL);
  ck_assert_ptr_eq((void *)fn, (void *)t_never);
  ck_assert_ptr_eq((void *)ifn, (void *)i_never);

  ck_assert_ptr_null(cf_task_name(NULL));
  ck_assert_ptr_null(cf_initializer_name(NULL));
}
END_TEST

START_TEST(test_first_name_wins) {
  ck_assert_int_eq(cf_task_register("rg.first", t_b), 0);
  ck_assert_int_eq(cf_task_register("rg.second", t_b), 0);
  ck_assert_int_eq(cf_task_register("rg.third", t_b), 0);
  ck_assert_str_eq(cf_task_name(t_b), "rg.first");
  const char *names[] = {"rg.first", "rg.second", "rg.third"};
  for (int i = 0; i < 3; i++) {
    cf_bytes_fn fn = NULL;
    ck_assert_int_eq(cf_task_lookup(names[i], &fn), 0);
    ck_assert_ptr_eq((void *)fn, (void *)t_b);
  }
  /* Registering the first name again does not make it "newer". */
  ck_assert_int_eq(cf_task_register("rg.third", t_b), 0);
  ck_assert_str_eq(cf_task_name(t_b), "rg.first");

  ck_assert_int_eq(cf_initializer_register("rg.init_first", i_b), 0);
  ck_assert_int_eq(cf_initializer_register("rg.init_second", i_b), 0);
  ck_assert_str_eq(cf_initializer_name(i_b), "rg.init_first");
}
END_TEST

START_TEST(test_map_chunk_is_known) {
  cf_bytes_fn fn = NULL;
  ck_assert_int_eq(cf_task_lookup("cf.map_chunk", &fn), 0);
  ck_assert_ptr_nonnull((void *)fn);
  ck_assert_str_eq(cf_task_name(fn), "cf.map_chunk");
  /* It is a task, not an initializer; and the name stays the library's. */
  cf_bytes_init_fn ifn = NULL;
  ck_assert_int_eq(cf_initializer_lookup("cf.map_chunk", &ifn), CF_ENOENT);
  ck_assert_int_eq(cf_task_register("cf.map_chunk", fn), CF_EINVAL);
  ck_assert_int_eq(cf_task_register("cf.map_chunk", t_a), CF_EINVAL);
  cf_bytes_fn again = NULL;
  ck_assert_int_eq(cf_task_lookup("cf.map_chunk", &again), 0);
  ck_assert_ptr_eq((void *)again, (void *)fn);
}
END_TEST

START_TEST(test_macros_ran_before_main) {
  cf_bytes_fn fn = NULL;
  ck_assert_int_eq(cf_task_lookup("rg.macro_task", &fn), 0);
  ck_assert_ptr_eq((void *)fn, (void *)t_upper);
  ck_assert_str_eq(cf_task_name(t_upper), "rg.macro_task");
  cf_bytes_init_fn ifn = NULL;
  ck_assert_int_eq(cf_initializer_lookup("rg.macro_init", &ifn), 0);
  ck_assert_ptr_eq((void *)ifn, (void *)i_a);
  ck_assert_str_eq(cf_initializer_name(i_a), "rg.macro_init");
  /* A registration at run time cannot take a macro's name. */
  ck_assert_int_eq(cf_task_register("rg.macro_task", t_a), CF_EEXIST);
  ck_assert_int_eq(cf_task_lookup("rg.macro_task", &fn), CF_EEXIST);
}
END_TEST

/* cf_submit_named --------------------------------------------------------- */

START_TEST(test_submit_named_process_pool) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  o.start_method = CF_START_FORK;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);

  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit_named(ex, "rg.macro_task", "hello, x1", 9, &f), 0);
  const void *d;
  size_t n;
  ck_assert_int_eq(cf_future_bytes(f, 30, &d, &n), 0);
  ck_assert_uint_eq(n, 9);
  ck_assert_int_eq(memcmp(d, "HELLO, X1", 9), 0);
  cf_future_release(f);
  /* A name registered at run time works too: a fork worker has it. */
  ck_assert_int_eq(cf_task_register("rg.late_b", t_b), 0);
  ck_assert_int_eq(cf_submit_named(ex, "rg.late_b", NULL, 0, &f), 0);
  ck_assert_int_eq(cf_future_bytes(f, 30, &d, &n), 0);
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(memcmp(d, "bb", 2), 0);
  cf_future_release(f);
  ck_assert_int_eq(cf_submit_named(ex, "rg.macro_task", "z", 1, NULL), 0);

  /* Errors leave *out untouched. */
  cf_future *sentinel = (cf_future *)&o;
  f = sentinel;
  ck_assert_int_eq(cf_submit_named(ex, "rg.nobody", "x", 1, &f), CF_ENOENT);
  ck_assert_int_eq(cf_submit_named(ex, "rg.macro_init", "x", 1, &f), CF_ENOENT);
  ck_assert_int_eq(cf_submit_named(ex, "not valid", "x", 1, &f), CF_ENOENT);
  ck_assert_int_eq(cf_task_register("rg.sub_clash", t_a), 0);
  ck_assert_int_eq(cf_task_register("rg.sub_clash", t_c), CF_EEXIST);
  ck_assert_int_eq(cf_submit_named(ex, "rg.sub_clash", "x", 1, &f), CF_EEXIST);
  ck_assert_int_eq(cf_submit_named(ex, NULL, "x", 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_named(NULL, "rg.macro_task", "x", 1, &f),
                   CF_EINVAL);
  ck_assert_int_eq(cf_submit_named(ex, "rg.macro_task", NULL, 1, &f),
                   CF_EINVAL);
  ck_assert_ptr_eq(f, sentinel);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  /* The zygote, this process's only child, was reaped. */
  errno = 0;
  ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
  ck_assert_int_eq(errno, ECHILD);
}
END_TEST

START_TEST(test_submit_named_thread_pool) {
  cf_executor *ex = cf_test_pool(1);
  cf_future *sentinel = (cf_future *)&ex, *f = sentinel;
  /* A thread pool runs cf_fn tasks, not byte tasks. */
  ck_assert_int_eq(cf_submit_named(ex, "rg.macro_task", "x", 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_named(ex, "cf.map_chunk", NULL, 0, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_named(ex, NULL, "x", 1, &f), CF_EINVAL);
  ck_assert_ptr_eq(f, sentinel);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Concurrency ------------------------------------------------------------- */

enum { REG_THREADS = 4, LOOK_THREADS = 4, PER_THREAD = 2000 };
#define NNAMES (REG_THREADS * PER_THREAD)

/* One function per registering thread, so a lookup can tell whose it is. */
static int s_0(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "0", 1);
}
static int s_1(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "11", 2);
}
static int s_2(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "222", 3);
}
static int s_3(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "3333", 4);
}
static const cf_bytes_fn stress_fns[REG_THREADS] = {s_0, s_1, s_2, s_3};

struct stress {
  char names[NNAMES][24];
  atomic_int registered; /* registrars done */
  atomic_int reg_errors;
  atomic_int wrong_fn; /* a lookup gave another thread's function */
  atomic_int bad_rc;   /* a lookup gave neither 0 nor CF_ENOENT */
  atomic_int lost;     /* a name found once was not found later */
  atomic_int bad_name; /* cf_task_name gave other than the first name */
  atomic_long hits;    /* successful lookups while registering */
};
static struct stress st;

struct stress_arg {
  int id;
};

static void *registrar(void *arg) {
  int t = ((struct stress_arg *)arg)->id;
  for (int i = 0; i < PER_THREAD; i++)
    if (cf_task_register(st.names[t * PER_THREAD + i], stress_fns[t]) != 0)
      atomic_fetch_add(&st.reg_errors, 1);
  atomic_fetch_add(&st.registered, 1);
  return NULL;
}

static void *looker(void *arg) {
  int id = ((struct stress_arg *)arg)->id;
  bool seen[NNAMES] = {false};
  long hits = 0;
  bool last = false;
  while (!last) {
    /* One more full pass after every registrar has finished. */
    last = atomic_load(&st.registered) == REG_THREADS;
    for (int k = 0; k < NNAMES; k++) {
      int i = (k + id * (NNAMES / LOOK_THREADS)) % NNAMES;
      cf_bytes_fn fn = NULL;
      int rc = cf_task_lookup(st.names[i], &fn);
      if (rc == 0) {
        hits++;
        seen[i] = true;
        if (fn != stress_fns[i / PER_THREAD])
          atomic_fetch_add(&st.wrong_fn, 1);
      } else if (rc != CF_ENOENT) {
        atomic_fetch_add(&st.bad_rc, 1);
      } else if (seen[i] || last) {
        atomic_fetch_add(&st.lost, 1);
      }
    }
    for (int t = 0; t < REG_THREADS; t++) {
      const char *n = cf_task_name(stress_fns[t]);
      if (n != NULL && strcmp(n, st.names[t * PER_THREAD]) != 0)
        atomic_fetch_add(&st.bad_name, 1);
    }
  }
  atomic_fetch_add(&st.hits, hits);
  return NULL;
}

START_TEST(test_concurrent_register_and_lookup) {
  for (int i = 0; i < NNAMES; i++)
    snprintf(st.names[i], sizeof st.names[i], "st.%d.%d", i / PER_THREAD,
             i % PER_THREAD);
  pthread_t reg[REG_THREADS], look[LOOK_THREADS];
  struct stress_arg rargs[REG_THREADS], largs[LOOK_THREADS];
  for (int i = 0; i < LOOK_THREADS; i++) {
    largs[i].id = i;
    ck_assert_int_eq(pthread_create(&look[i], NULL, looker, &largs[i]), 0);
  }
  for (int i = 0; i < REG_THREADS; i++) {
    rargs[i].id = i;
    ck_assert_int_eq(pthread_create(&reg[i], NULL, registrar, &rargs[i]), 0);
  }
  for (int i = 0; i < REG_THREADS; i++)
    pthread_join(reg[i], NULL);
  for (int i = 0; i < LOOK_THREADS; i++)
    pthread_join(look[i], NULL);

  ck_assert_int_eq(atomic_load(&st.reg_errors), 0);
  ck_assert_int_eq(atomic_load(&st.wrong_fn), 0);
  ck_assert_int_eq(atomic_load(&st.bad_rc), 0);
  ck_assert_int_eq(atomic_load(&st.lost), 0);
  ck_assert_int_eq(atomic_load(&st.bad_name), 0);
  /* Every lookup thread's final pass found all of them. */
  ck_assert_int_ge(atomic_load(&st.hits), (long)LOOK_THREADS * NNAMES);
  for (int i = 0; i < NNAMES; i++) {
    cf_bytes_fn fn = NULL;
    ck_assert_int_eq(cf_task_lookup(st.names[i], &fn), 0);
    ck_assert_ptr_eq((void *)fn, (void *)stress_fns[i / PER_THREAD]);
  }
  for (int t = 0; t < REG_THREADS; t++)
    ck_assert_str_eq(cf_task_name(stress_fns[t]), st.names[t * PER_THREAD]);
}
END_TEST

Suite *cf_registry_suite(void) {
  Suite *s = suite_create("registry");
  TCase *tc = tcase_create("names");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_round_trip);
  tcase_add_test(tc, test_same_fn_same_name_twice);
  tcase_add_test(tc, test_clash_makes_the_name_ambiguous);
  tcase_add_test(tc, test_clash_across_kinds);
  tcase_add_test(tc, test_kinds_do_not_cross);
  tcase_add_test(tc, test_unknown_names);
  tcase_add_test(tc, test_invalid_names);
  tcase_add_test(tc, test_null_arguments);
  tcase_add_test(tc, test_first_name_wins);
  tcase_add_test(tc, test_map_chunk_is_known);
  tcase_add_test(tc, test_macros_ran_before_main);
  suite_add_tcase(s, tc);

  tc = tcase_create("submit");
  cf_test_tcase_timeout(tc, 30);
  /* ThreadSanitizer cannot follow the process pool's fork; the spawn and
   * process_pool suites cover it in the other builds. */
  if (!CF_TEST_TSAN)
    tcase_add_test(tc, test_submit_named_process_pool);
  tcase_add_test(tc, test_submit_named_thread_pool);
  suite_add_tcase(s, tc);

  tc = tcase_create("concurrency");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_concurrent_register_and_lookup);
  suite_add_tcase(s, tc);
  return s;
}
