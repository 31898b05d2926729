/* SPDX-License-Identifier: MIT */
/* A libevent TCP server that keeps its loop responsive while CPU-heavy
 * requests run on a thread pool (loop.run_in_executor, in C).
 *
 * A client sends a number N and a newline; the server counts the primes
 * below N on the pool and, back on the loop thread, replies
 * "primes below N: K". A 1 ms timer ticks all along to show the loop never
 * waits for the work.
 *
 *   event_server                 self-test: serve on a free port, connect
 *                                two clients, check both replies, exit 0
 *   event_server --serve PORT    serve on 127.0.0.1:PORT until killed
 *                                (try: echo 2000000 | nc 127.0.0.1 PORT)
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <cfutures.h>
#include <cfutures/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct event_base *base;
static cf_executor *pool;
static cf_event_bridge *eb;
static struct evconnlistener *listener;
static struct event *ticker;
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
  struct bufferevent *bev;
  unsigned long n;
} conn;

static void conn_free(conn *c) {
  bufferevent_free(c->bev);
  free(c);
}

/* The reply has left: close. */
static void on_flushed(struct bufferevent *bev, void *arg) {
  (void)bev;
  conn_free(arg);
}

/* Runs on the loop thread once the count is done. */
static void on_counted(cf_future *f, int status, void *userdata) {
  conn *c = userdata;
  void *count = NULL;
  if (status != 0 || cf_future_result(f, 0, &count) != 0) {
    conn_free(c); /* shutting down */
    return;
  }
  bufferevent_setcb(c->bev, NULL, on_flushed, NULL, c);
  evbuffer_add_printf(bufferevent_get_output(c->bev), "primes below %lu: %lu\n",
                      c->n, (unsigned long)(uintptr_t)count);
}

static void on_request(struct bufferevent *bev, void *arg) {
  conn *c = arg;
  char *line =
      evbuffer_readln(bufferevent_get_input(bev), NULL, EVBUFFER_EOL_LF);
  if (line == NULL)
    return;
  c->n = strtoul(line, NULL, 10);
  free(line);
  bufferevent_disable(bev, EV_READ);
  /* The loop goes on serving; on_counted runs here when the pool is done. */
  if (cf_bridge_submit(cf_event_bridge_get(eb), pool, count_primes,
                       (void *)(uintptr_t)c->n, on_counted, c, NULL) != 0)
    conn_free(c);
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg) {
  (void)bev;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    conn_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int socklen, void *arg) {
  (void)l;
  (void)sa;
  (void)socklen;
  (void)arg;
  conn *c = calloc(1, sizeof *c);
  if (c == NULL) {
    evutil_closesocket(fd);
    return;
  }
  c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(c->bev, on_request, NULL, on_conn_event, c);
  bufferevent_enable(c->bev, EV_READ);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  ticks++;
}

/* ---- the self-test's clients, on the same loop ---- */

typedef struct client {
  struct bufferevent *bev;
  const char *request;
  const char *expect;
  int ok;
} client;

static client clients[2] = {
    {.request = "100000\n", .expect = "primes below 100000: 9592"},
    {.request = "200000\n", .expect = "primes below 200000: 17984"},
};
static int clients_left = 2;

static void client_done(client *cl) {
  bufferevent_free(cl->bev);
  cl->bev = NULL;
  if (--clients_left > 0)
    return;
  evconnlistener_free(listener);
  event_del(ticker);
  cf_event_bridge_free(eb);
  eb = NULL;
}

static void on_reply(struct bufferevent *bev, void *arg) {
  client *cl = arg;
  char *line =
      evbuffer_readln(bufferevent_get_input(bev), NULL, EVBUFFER_EOL_LF);
  if (line == NULL)
    return;
  cl->ok = strcmp(line, cl->expect) == 0;
  printf("client sent %.*s, got %s\n", (int)strlen(cl->request) - 1,
         cl->request, line);
  free(line);
  client_done(cl);
}

static void on_client_event(struct bufferevent *bev, short what, void *arg) {
  client *cl = arg;
  if (what & BEV_EVENT_CONNECTED) {
    bufferevent_write(bev, cl->request, strlen(cl->request));
    return;
  }
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    client_done(cl);
}

int main(int argc, char **argv) {
  int port = 0;
  if (argc == 3 && strcmp(argv[1], "--serve") == 0) {
    port = atoi(argv[2]);
  } else if (argc > 1 && strcmp(argv[1], "--selftest") != 0) {
    fprintf(stderr, "usage: %s [--selftest | --serve PORT]\n", argv[0]);
    return 2;
  }
  base = event_base_new();
  if (base == NULL || cf_thread_pool_new(NULL, &pool) != 0 ||
      cf_event_bridge_new(base, &eb) != 0) {
    fprintf(stderr, "cannot start the loop, the pool or the bridge\n");
    return 1;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  listener = evconnlistener_new_bind(base, on_accept, NULL,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                         LEV_OPT_CLOSE_ON_EXEC,
                                     64, (struct sockaddr *)&addr, sizeof addr);
  if (listener == NULL) {
    perror("listen");
    return 1;
  }
  ticker = event_new(base, -1, EV_PERSIST, on_tick, NULL);
  struct timeval ms = {0, 1000};
  event_add(ticker, &ms);

  if (port == 0) {
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&bound,
                &len);
    for (int i = 0; i < 2; i++) {
      clients[i].bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
      bufferevent_setcb(clients[i].bev, on_reply, NULL, on_client_event,
                        &clients[i]);
      bufferevent_enable(clients[i].bev, EV_READ);
      bufferevent_socket_connect(clients[i].bev, (struct sockaddr *)&bound,
                                 (int)len);
    }
  } else {
    printf("serving on 127.0.0.1:%d\n", port);
    fflush(stdout);
  }
  event_base_dispatch(base);
  event_free(ticker);
  event_base_free(base);
  cf_executor_free(pool);
  printf("the loop ticked %lu times while the pool counted\n", ticks);
  return clients[0].ok && clients[1].ok ? 0 : 1;
}
