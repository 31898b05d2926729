/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/channel.h
 * @brief A bounded blocking queue of pointers (see @ref channel).
 */
/**
 * @defgroup channel Channel
 * @brief A bounded blocking queue of pointers (Python's
 * queue.Queue(maxsize), Go's buffered channel).
 *
 * A channel carries void * items from producers to consumers, first in,
 * first out, holding at most `capacity` of them: a full channel makes
 * senders wait, an empty one makes receivers wait. Closing it ends the
 * stream: receivers drain what is left and then get CF_EOF, senders get
 * CF_ESHUTDOWN. It is the queue of the producer-consumer pattern (Python's
 * queue.Queue(maxsize), Go's buffered channel) and a way to hand results
 * from tasks to a consumer thread.
 *
 * Items are opaque to the channel: it never dereferences or frees them
 * (NULL is a valid item). Every function may be called from any thread.
 * Blocking follows the library's timeout rule: negative waits forever,
 * zero polls, NaN is CF_EINVAL; the try_ variants never block and say
 * "would block" with CF_EAGAIN.
 * @{
 */
#ifndef CFUTURES_CHANNEL_H
#define CFUTURES_CHANNEL_H

#include "cfutures.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A bounded blocking queue of void * (opaque). */
typedef struct cf_channel cf_channel;

/**
 * Creates a channel that holds up to capacity items. *out receives it; the
 * caller frees it with cf_channel_free.
 *
 * @param capacity Most items held at once, >= 1.
 * @param[out] out Receives the channel.
 * @return 0, CF_EINVAL (out NULL, capacity 0), CF_ENOMEM.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_channel_new(size_t capacity, cf_channel **out);

/**
 * Appends item, waiting up to timeout seconds while the channel is full.
 *
 * @param ch The channel.
 * @param item The item (opaque; NULL is valid).
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @return 0 (the channel now holds the item), CF_ESHUTDOWN (the channel is
 *         closed, also when it closes while this call waits; the item was
 *         not sent), CF_ETIMEDOUT (still full at the deadline; zero polls),
 *         CF_EINVAL (ch NULL, NaN timeout).
 * @threads Blocks while full; any thread.
 */
CF_EXTERN int cf_channel_send(cf_channel *ch, void *item, double timeout);

/**
 * Appends item if there is room now.
 *
 * @param ch The channel.
 * @param item The item (opaque; NULL is valid).
 * @return 0, CF_EAGAIN (full), CF_ESHUTDOWN (closed), CF_EINVAL (ch NULL).
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_channel_try_send(cf_channel *ch, void *item);

/**
 * Takes the oldest item into *item, waiting up to timeout seconds while the
 * channel is empty.
 *
 * @param ch The channel.
 * @param[out] item Receives the item; untouched on error.
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @return 0, CF_EOF (closed and empty: no item will ever come),
 *         CF_ETIMEDOUT (still empty at the deadline; zero polls), CF_EINVAL
 *         (ch or item NULL, NaN timeout).
 * @threads Blocks while empty; any thread.
 */
CF_EXTERN int cf_channel_recv(cf_channel *ch, void **item, double timeout);

/**
 * Takes the oldest item if there is one now.
 *
 * @param ch The channel.
 * @param[out] item Receives the item; untouched on error.
 * @return 0, CF_EAGAIN (empty but open), CF_EOF (closed and empty),
 *         CF_EINVAL (ch or item NULL).
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_channel_try_recv(cf_channel *ch, void **item);

/**
 * Closes the channel: later sends fail with CF_ESHUTDOWN, receivers get the
 * items still queued and then CF_EOF. Wakes every waiting sender and
 * receiver. Closing twice is harmless.
 *
 * @param ch The channel.
 * @return 0, or CF_EINVAL (NULL).
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_channel_close(cf_channel *ch);

/**
 * True once cf_channel_close was called.
 *
 * @param ch The channel.
 * @return Whether it is closed; false for NULL.
 * @threads Never blocks; any thread.
 */
CF_EXTERN bool cf_channel_closed(const cf_channel *ch);

/**
 * How many items are queued now.
 *
 * @param ch The channel.
 * @return The count (0 for NULL).
 * @threads Never blocks for long; any thread.
 */
CF_EXTERN size_t cf_channel_len(const cf_channel *ch);

/**
 * The capacity given to cf_channel_new.
 *
 * @param ch The channel.
 * @return The capacity (0 for NULL).
 * @threads Never blocks; any thread.
 */
CF_EXTERN size_t cf_channel_capacity(const cf_channel *ch);

/**
 * Frees the channel. Items still queued are dropped without being touched
 * (the caller drains them first if they own memory). No thread may be using
 * the channel, or use it afterwards: close it, let the users return, then
 * free it. NULL is a no-op.
 *
 * @param ch The channel, or NULL.
 * @threads Never blocks; no other thread may use ch at the same time or
 *          afterwards.
 */
CF_EXTERN void cf_channel_free(cf_channel *ch);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_CHANNEL_H */
