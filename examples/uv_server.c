/* SPDX-License-Identifier: MIT */
/* A libuv TCP server that keeps its loop responsive while CPU-heavy
 * requests run on a thread pool (loop.run_in_executor, in C).
 *
 * A client sends a number N and a newline; the server counts the primes
 * below N on the pool and, back on the loop thread, replies
 * "primes below N: K". A 1 ms timer ticks all along to show the loop never
 * waits for the work.
 *
 *   uv_server                 self-test: serve on a free port, connect two
 *                             clients, check both replies, exit 0
 *   uv_server --serve PORT    serve on 127.0.0.1:PORT until killed
 *                             (try: echo 2000000 | nc 127.0.0.1 PORT)
 */
/* libuv's header needs the POSIX declarations that strict C11 hides. */
#define _POSIX_C_SOURCE 200809L

#include <cfutures.h>
#include <cfutures/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t *loop;
static cf_executor *pool;
static cf_uv_bridge ub;
static uv_tcp_t server;
static uv_timer_t ticker;
static unsigned long ticks;

/* ---- the work: runs on a pool thread ---- */

static int count_primes(void *arg, void **result) {
  unsigned long n = (unsigned long)(uintptr_t)arg, count = 0;
  for (unsigned long k = 2; k < n; k++) {
    int prime = 1;
    for (unsigned long d = 2; d * d <= k; d++)
      if (k % d == 0) {
        prime = 0;
        break;
      }
    count += (unsigned long)prime;
  }
  *result = (void *)(uintptr_t)count;
  return 0;
}

/* ---- one connection ---- */

typedef struct conn {
  uv_tcp_t tcp;
  uv_write_t write_req;
  char in[32];
  size_t len;
  unsigned long n;
  char reply[64];
} conn;

static void on_conn_closed(uv_handle_t *h) {
  free(h->data);
}

static void on_written(uv_write_t *req, int status) {
  (void)status;
  conn *c = req->data;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* Runs on the loop thread once the count is done. */
static void on_counted(cf_future *f, int status, void *userdata) {
  conn *c = userdata;
  void *count = NULL;
  if (status != 0 || cf_future_result(f, 0, &count) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed); /* shutting down */
    return;
  }
  int len = snprintf(c->reply, sizeof c->reply, "primes below %lu: %lu\n", c->n,
                     (unsigned long)(uintptr_t)count);
  uv_buf_t buf = uv_buf_init(c->reply, (unsigned)len);
  c->write_req.data = c;
  uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)size;
  conn *c = h->data;
  *buf = uv_buf_init(c->in + c->len, (unsigned)(sizeof c->in - 1 - c->len));
}

static void on_request(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  conn *c = s->data;
  if (nread < 0 || (nread == 0 && c->len == sizeof c->in - 1)) {
    uv_close((uv_handle_t *)s, on_conn_closed);
    return;
  }
  c->len += (size_t)nread;
  c->in[c->len] = '\0';
  if (strchr(c->in, '\n') == NULL)
    return;
  uv_read_stop(s);
  c->n = strtoul(c->in, NULL, 10);
  /* The loop goes on serving; on_counted runs here when the pool is done. */
  if (cf_bridge_submit(cf_uv_bridge_get(&ub), pool, count_primes,
                       (void *)(uintptr_t)c->n, on_counted, c, NULL) != 0)
    uv_close((uv_handle_t *)s, on_conn_closed);
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status < 0)
    return;
  conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return;
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_request);
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  ticks++;
}

/* ---- the self-test's clients, on the same loop ---- */

typedef struct client {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_write_t write_req;
  const char *request;
  const char *expect;
  char in[64];
  size_t len;
  int ok;
} client;

static client clients[2] = {
    {.request = "100000\n", .expect = "primes below 100000: 9592\n"},
    {.request = "200000\n", .expect = "primes below 200000: 17984\n"},
};
static int clients_left = 2;

static void shut_down(void) {
  uv_close((uv_handle_t *)&server, NULL);
  uv_close((uv_handle_t *)&ticker, NULL);
  cf_uv_bridge_close(&ub, NULL);
}

static void on_client_closed(uv_handle_t *h) {
  (void)h;
  if (--clients_left == 0)
    shut_down();
}

static void on_client_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)size;
  client *cl = h->data;
  *buf = uv_buf_init(cl->in + cl->len, (unsigned)(sizeof cl->in - 1 - cl->len));
}

static void on_reply(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  client *cl = s->data;
  if (nread > 0) {
    cl->len += (size_t)nread;
    cl->in[cl->len] = '\0';
    if (cl->len < sizeof cl->in - 1)
      return;
  }
  if (nread == 0)
    return;
  cl->ok = strcmp(cl->in, cl->expect) == 0;
  printf("client sent %.*s, got %s", (int)strlen(cl->request) - 1, cl->request,
         cl->in);
  uv_close((uv_handle_t *)s, on_client_closed);
}

static void on_sent(uv_write_t *req, int status) {
  client *cl = req->data;
  if (status == 0)
    uv_read_start((uv_stream_t *)&cl->tcp, on_client_alloc, on_reply);
  else
    uv_close((uv_handle_t *)&cl->tcp, on_client_closed);
}

static void on_connected(uv_connect_t *req, int status) {
  client *cl = req->data;
  if (status != 0) {
    uv_close((uv_handle_t *)&cl->tcp, on_client_closed);
    return;
  }
  uv_buf_t buf =
      uv_buf_init((char *)cl->request, (unsigned)strlen(cl->request));
  cl->write_req.data = cl;
  uv_write(&cl->write_req, (uv_stream_t *)&cl->tcp, &buf, 1, on_sent);
}

int main(int argc, char **argv) {
  int port = 0;
  if (argc == 3 && strcmp(argv[1], "--serve") == 0) {
    port = atoi(argv[2]);
  } else if (argc > 1 && strcmp(argv[1], "--selftest") != 0) {
    fprintf(stderr, "usage: %s [--selftest | --serve PORT]\n", argv[0]);
    return 2;
  }
  loop = uv_default_loop();
  if (cf_thread_pool_new(NULL, &pool) != 0 ||
      cf_uv_bridge_init(loop, &ub) != 0) {
    fprintf(stderr, "cannot start the pool or the bridge\n");
    return 1;
  }
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_init(loop, &server);
  int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&server, 64, on_connection);
  if (rc != 0) {
    fprintf(stderr, "listen: %s\n", uv_strerror(rc));
    return 1;
  }
  uv_timer_init(loop, &ticker);
  uv_timer_start(&ticker, on_tick, 1, 1);

  if (port == 0) {
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    for (int i = 0; i < 2; i++) {
      uv_tcp_init(loop, &clients[i].tcp);
      clients[i].tcp.data = &clients[i];
      clients[i].connect_req.data = &clients[i];
      uv_tcp_connect(&clients[i].connect_req, &clients[i].tcp,
                     (const struct sockaddr *)&bound, on_connected);
    }
  } else {
    printf("serving on 127.0.0.1:%d\n", port);
    fflush(stdout);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  cf_executor_free(pool);
  printf("the loop ticked %lu times while the pool counted\n", ticks);
  return clients[0].ok && clients[1].ok ? 0 : 1;
}
