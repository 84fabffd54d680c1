/*
 * The Tox baseline of bench/run: two Tox instances (Debian's libtoxcore) in this process, on
 * loopback only, exchanging 200-byte text messages the way SecureChat.Bench.Wire sends its own,
 * so that SecureChat's msgs_per_s, latency_p50_us, latency_p99_us and connect_ms can be read
 * against another decentralized, end-to-end encrypted messenger measured in the same run.
 *
 * Each instance runs its own event loop on its own thread and calls tox_iterate every
 * millisecond (sooner when tox_iteration_interval asks for it), as a Tox client's loop does; the
 * sender's loop also issues the messages, since a Tox instance belongs to one thread. Neither
 * instance talks to anything but the other: UDP on, IPv6 off, local discovery off, no TCP relay,
 * and each is bootstrapped to the other's 127.0.0.1 port and DHT key.
 *
 * Usage: tox_bench [--messages N] [--paced M] [--connects K] [--limit-seconds S]
 *   K fresh pairs are started one after another and timed until connected (tox_connect_ms is
 *   their median); the last pair then sends a warm-up of min(N/10, 2000) messages, N messages as
 *   fast as Tox accepts them, and M messages at 1,000 a second.
 * Output: key=value lines on standard output. On failure, one sentence on standard error and
 * exit status 1; every wait is bounded by S seconds.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tox/tox.h>

/* The size of every message, as SecureChat.Bench.Wire's Messaging.TextBytes. */
#define TEXT_BYTES 200
/* The paced rate of the latency figures, as SecureChat's: 1,000 messages a second. */
#define PACED_PER_SECOND 1000
/* No event loop waits longer than this between two tox_iterate calls. */
#define TICK_NS 1000000LL

struct peer {
    const char *name;
    Tox *tox;
    uint32_t friend_number;
    /* Written by the peer's own thread (its callbacks), read by the other. */
    atomic_bool connected;
    atomic_uint_fast64_t received;
    atomic_uint_fast64_t receipts;
    atomic_bool stop;
    /* The receiver's latencies of paced messages (microseconds); each is written before the
     * increment of received that counts its message, so a reader that has seen the count may
     * read the sample. */
    double *latencies;
    size_t latency_count;
    size_t latency_capacity;
    int64_t next_tick;
};

struct settings {
    uint64_t messages;
    uint64_t paced;
    int connects;
    int64_t limit_ns;
};

/* What the sender's thread measured; failure holds the sentence when it failed. */
struct outcome {
    double online_ms;
    double delivered_ms;
    double burst_received_s;
    double burst_acknowledged_s;
    char failure[256];
};

struct pair {
    struct peer sender;
    struct peer receiver;
    const struct settings *settings;
    bool exchange;
    int64_t started;
    struct outcome outcome;
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_until(int64_t deadline)
{
    struct timespec t = { .tv_sec = deadline / 1000000000LL, .tv_nsec = deadline % 1000000000LL };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
    }
}

static void fail(struct outcome *outcome, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(outcome->failure, sizeof outcome->failure, format, arguments);
    va_end(arguments);
}

/* One turn of a peer's event loop: tox_iterate, then the time of the next turn, at most a
 * millisecond after this one ended, as a client's loop sleeps between turns. The wait counts from
 * the end of the turn, not on a fixed grid: two loops on one exact 1 ms grid would keep one phase
 * against each other and against the paced sends, and every latency would show that phase rather
 * than the spread of a real client's wake-ups. */
static void iterate(struct peer *peer)
{
    tox_iterate(peer->tox, peer);
    int64_t interval = (int64_t)tox_iteration_interval(peer->tox) * 1000000LL;
    peer->next_tick = now_ns() + (interval < TICK_NS ? interval : TICK_NS);
}

static void on_connection(Tox *tox, uint32_t friend_number, Tox_Connection status, void *user_data)
{
    (void)tox;
    (void)friend_number;
    struct peer *peer = user_data;
    atomic_store(&peer->connected, status != TOX_CONNECTION_NONE);
}

/* A message is "t=<monotonic ns>;n=<index>;" padded with 'x'; t=0 for the unpaced ones. */
static void on_message(Tox *tox, uint32_t friend_number, Tox_Message_Type type, const uint8_t *message,
                       size_t length, void *user_data)
{
    (void)tox;
    (void)friend_number;
    (void)type;
    int64_t arrived = now_ns();
    struct peer *peer = user_data;
    char head[32];
    size_t n = length < sizeof head - 1 ? length : sizeof head - 1;
    memcpy(head, message, n);
    head[n] = '\0';
    long long sent = 0;
    if (sscanf(head, "t=%lld;", &sent) == 1 && sent > 0 && peer->latency_count < peer->latency_capacity) {
        peer->latencies[peer->latency_count++] = (double)(arrived - sent) / 1000.0;
    }

    atomic_fetch_add(&peer->received, 1);
}

static void on_receipt(Tox *tox, uint32_t friend_number, uint32_t message_id, void *user_data)
{
    (void)tox;
    (void)friend_number;
    (void)message_id;
    struct peer *peer = user_data;
    atomic_fetch_add(&peer->receipts, 1);
}

static void text(uint8_t *buffer, uint64_t index, int64_t stamp)
{
    int head = snprintf((char *)buffer, TEXT_BYTES + 1, "t=%" PRId64 ";n=%" PRIu64 ";", stamp, index);
    memset(buffer + head, 'x', TEXT_BYTES - (size_t)head);
}

/* Sends one message; false when Tox's send queue is full (try again after a turn), and a failure
 * for any other refusal. */
static bool send_text(struct pair *pair, uint64_t index, int64_t stamp, bool *refused)
{
    uint8_t buffer[TEXT_BYTES + 1];
    text(buffer, index, stamp);
    Tox_Err_Friend_Send_Message error;
    tox_friend_send_message(pair->sender.tox, pair->sender.friend_number, TOX_MESSAGE_TYPE_NORMAL, buffer,
                            TEXT_BYTES, &error);
    if (error == TOX_ERR_FRIEND_SEND_MESSAGE_OK) {
        return true;
    }

    if (error != TOX_ERR_FRIEND_SEND_MESSAGE_SENDQ) {
        fail(&pair->outcome, "Tox refused message %" PRIu64 " (Tox_Err_Friend_Send_Message %d).", index, (int)error);
        *refused = true;
    }

    return false;
}

/* Runs the sender's loop until the receiver has received `until` messages and the sender has a
 * receipt for each, or the limit passes. */
static bool drain(struct pair *pair, uint64_t until, int64_t deadline, const char *what)
{
    while (atomic_load(&pair->receiver.received) < until || atomic_load(&pair->sender.receipts) < until) {
        if (now_ns() > deadline) {
            fail(&pair->outcome, "%s: after the time limit the receiver had %" PRIu64 " of %" PRIu64
                 " messages and the sender %" PRIu64 " receipts.", what, (uint64_t)atomic_load(&pair->receiver.received),
                 until, (uint64_t)atomic_load(&pair->sender.receipts));
            return false;
        }

        iterate(&pair->sender);
        sleep_until(pair->sender.next_tick);
    }

    return true;
}

/* Sends `count` messages as fast as Tox accepts them: each turn fills the send queue, then
 * iterates. Returns the seconds until the last was received and until the last receipt came. */
static bool burst(struct pair *pair, uint64_t count, double *received_s, double *acknowledged_s)
{
    uint64_t base = atomic_load(&pair->receiver.received);
    uint64_t base_receipts = atomic_load(&pair->sender.receipts);
    int64_t start = now_ns();
    int64_t deadline = start + pair->settings->limit_ns;
    uint64_t sent = 0;
    bool refused = false;
    int64_t received_at = 0;
    while (atomic_load(&pair->sender.receipts) < base_receipts + count) {
        if (now_ns() > deadline) {
            fail(&pair->outcome, "burst: after the time limit the receiver had %" PRIu64 " of %" PRIu64
                 " messages (%" PRIu64 " accepted by Tox).", (uint64_t)atomic_load(&pair->receiver.received) - base,
                 count, sent);
            return false;
        }

        while (sent < count && send_text(pair, sent, 0, &refused)) {
            sent++;
        }

        if (refused) {
            return false;
        }

        iterate(&pair->sender);
        if (received_at == 0 && atomic_load(&pair->receiver.received) >= base + count) {
            received_at = now_ns();
        }

        sleep_until(pair->sender.next_tick);
    }

    if (received_at == 0) {
        received_at = now_ns();
    }

    *received_s = (double)(received_at - start) / 1e9;
    *acknowledged_s = (double)(now_ns() - start) / 1e9;
    return true;
}

/* Sends `count` messages at PACED_PER_SECOND, each stamped with the moment it is handed to Tox;
 * a message due while the loop was busy goes at once and carries the time it really went. */
static bool pace(struct pair *pair, uint64_t count)
{
    int64_t start = now_ns();
    int64_t deadline = start + pair->settings->limit_ns;
    uint64_t sent = 0;
    bool refused = false;
    while (sent < count) {
        if (now_ns() > deadline) {
            fail(&pair->outcome, "paced: only %" PRIu64 " of %" PRIu64 " messages were sent within the time limit.", sent, count);
            return false;
        }

        while (sent < count && start + (int64_t)sent * 1000000000LL / PACED_PER_SECOND <= now_ns()
               && send_text(pair, sent, now_ns(), &refused)) {
            sent++;
        }

        if (refused) {
            return false;
        }

        iterate(&pair->sender);
        int64_t due = start + (int64_t)sent * 1000000000LL / PACED_PER_SECOND;
        sleep_until(sent < count && due < pair->sender.next_tick ? due : pair->sender.next_tick);
    }

    return true;
}

static void *run_receiver(void *argument)
{
    struct peer *peer = argument;
    while (!atomic_load(&peer->stop)) {
        iterate(peer);
        sleep_until(peer->next_tick);
    }

    return NULL;
}

/* The sender's thread: waits until both see each other connected, delivers a first message,
 * and (for the pair that exchanges) the warm-up, the burst and the paced messages. */
static void *run_sender(void *argument)
{
    struct pair *pair = argument;
    struct outcome *outcome = &pair->outcome;
    const struct settings *settings = pair->settings;
    int64_t deadline = pair->started + settings->limit_ns;
    while (!atomic_load(&pair->sender.connected) || !atomic_load(&pair->receiver.connected)) {
        if (now_ns() > deadline) {
            fail(outcome, "The two Tox instances did not see each other connected within the time limit.");
            return NULL;
        }

        iterate(&pair->sender);
        sleep_until(pair->sender.next_tick);
    }

    outcome->online_ms = (double)(now_ns() - pair->started) / 1e6;
    bool refused = false;
    while (!send_text(pair, 0, 0, &refused)) {
        if (refused) {
            return NULL;
        }

        iterate(&pair->sender);
        sleep_until(pair->sender.next_tick);
    }

    if (!drain(pair, 1, deadline, "first message")) {
        return NULL;
    }

    outcome->delivered_ms = (double)(now_ns() - pair->started) / 1e6;
    if (!pair->exchange) {
        return NULL;
    }

    uint64_t warm_up = settings->messages / 10 < 2000 ? settings->messages / 10 : 2000;
    double unused_received, unused_acknowledged;
    if (warm_up > 0 && !burst(pair, warm_up, &unused_received, &unused_acknowledged)) {
        return NULL;
    }

    if (!burst(pair, settings->messages, &outcome->burst_received_s, &outcome->burst_acknowledged_s)) {
        return NULL;
    }

    uint64_t before = 1 + warm_up + settings->messages;
    if (!pace(pair, settings->paced)) {
        return NULL;
    }

    drain(pair, before + settings->paced, now_ns() + settings->limit_ns, "paced");
    return NULL;
}

static Tox *start_instance(const char *name, char *failure, size_t size)
{
    Tox_Err_Options_New options_error;
    struct Tox_Options *options = tox_options_new(&options_error);
    if (options == NULL) {
        snprintf(failure, size, "Tox options could not be allocated (Tox_Err_Options_New %d).", (int)options_error);
        return NULL;
    }

    tox_options_set_ipv6_enabled(options, false);
    tox_options_set_udp_enabled(options, true);
    tox_options_set_local_discovery_enabled(options, false);
    tox_options_set_hole_punching_enabled(options, false);
    tox_options_set_tcp_port(options, 0);
    Tox_Err_New error;
    Tox *tox = tox_new(options, &error);
    tox_options_free(options);
    if (tox == NULL) {
        snprintf(failure, size, "The %s Tox instance did not start (Tox_Err_New %d; %d is a port not free).", name,
                 (int)error, (int)TOX_ERR_NEW_PORT_ALLOC);
    }

    return tox;
}

/* Points `from` at `to`: the only node of its DHT, and its one friend. */
static bool introduce(struct peer *from, struct peer *to, char *failure, size_t size)
{
    uint8_t dht_id[TOX_PUBLIC_KEY_SIZE];
    uint8_t public_key[TOX_PUBLIC_KEY_SIZE];
    tox_self_get_dht_id(to->tox, dht_id);
    tox_self_get_public_key(to->tox, public_key);
    Tox_Err_Get_Port port_error;
    uint16_t port = tox_self_get_udp_port(to->tox, &port_error);
    Tox_Err_Bootstrap bootstrap_error;
    if (port_error != TOX_ERR_GET_PORT_OK || !tox_bootstrap(from->tox, "127.0.0.1", port, dht_id, &bootstrap_error)) {
        snprintf(failure, size, "The %s instance could not be bootstrapped to the %s one on 127.0.0.1.", from->name, to->name);
        return false;
    }

    Tox_Err_Friend_Add add_error;
    from->friend_number = tox_friend_add_norequest(from->tox, public_key, &add_error);
    if (add_error != TOX_ERR_FRIEND_ADD_OK) {
        snprintf(failure, size, "The %s instance could not add the %s one as a friend (Tox_Err_Friend_Add %d).", from->name,
                 to->name, (int)add_error);
        return false;
    }

    return true;
}

/* Starts a fresh pair, runs the sender's script against the receiver's loop, and stops both.
 * Returns false with a sentence in pair->outcome.failure when anything failed. */
static bool run_pair(struct pair *pair)
{
    struct outcome *outcome = &pair->outcome;
    pair->sender.name = "sending";
    pair->receiver.name = "receiving";
    pair->started = now_ns();
    pair->sender.tox = start_instance("sending", outcome->failure, sizeof outcome->failure);
    pair->receiver.tox = pair->sender.tox == NULL ? NULL : start_instance("receiving", outcome->failure, sizeof outcome->failure);
    bool ready = pair->receiver.tox != NULL
        && introduce(&pair->sender, &pair->receiver, outcome->failure, sizeof outcome->failure)
        && introduce(&pair->receiver, &pair->sender, outcome->failure, sizeof outcome->failure);
    if (ready) {
        struct peer *peers[] = { &pair->sender, &pair->receiver };
        for (int i = 0; i < 2; i++) {
            tox_callback_friend_connection_status(peers[i]->tox, on_connection);
            tox_callback_friend_message(peers[i]->tox, on_message);
            tox_callback_friend_read_receipt(peers[i]->tox, on_receipt);
            peers[i]->next_tick = now_ns();
        }

        pthread_t receiver, sender;
        if (pthread_create(&receiver, NULL, run_receiver, &pair->receiver) != 0) {
            fail(outcome, "The receiving instance's thread could not be started.");
        } else {
            if (pthread_create(&sender, NULL, run_sender, pair) != 0) {
                fail(outcome, "The sending instance's thread could not be started.");
            } else {
                pthread_join(sender, NULL);
            }

            atomic_store(&pair->receiver.stop, true);
            pthread_join(receiver, NULL);
        }
    }

    if (pair->sender.tox != NULL) {
        tox_kill(pair->sender.tox);
    }

    if (pair->receiver.tox != NULL) {
        tox_kill(pair->receiver.tox);
    }

    return outcome->failure[0] == '\0';
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile (1-100) of sorted values, as the suite's Stats.Percentile:
 * the value at rank ceil(p / 100 * count). */
static double percentile(const double *sorted, size_t count, size_t p)
{
    size_t rank = (p * count + 99) / 100;
    return sorted[(rank < 1 ? 1 : rank) - 1];
}

static bool parse_count(const char *text, uint64_t low, uint64_t high, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || parsed < low || parsed > high) {
        return false;
    }

    *value = parsed;
    return true;
}

int main(int argc, char **argv)
{
    struct settings settings = { .messages = 10000, .paced = 2000, .connects = 3, .limit_ns = 60LL * 1000000000LL };
    for (int i = 1; i < argc; i += 2) {
        uint64_t value = 0;
        bool known = i + 1 < argc;
        if (known && strcmp(argv[i], "--messages") == 0) {
            known = parse_count(argv[i + 1], 1, 10000000, &settings.messages);
        } else if (known && strcmp(argv[i], "--paced") == 0) {
            known = parse_count(argv[i + 1], 1, 1000000, &settings.paced);
        } else if (known && strcmp(argv[i], "--connects") == 0) {
            known = parse_count(argv[i + 1], 1, 100, &value);
            settings.connects = (int)value;
        } else if (known && strcmp(argv[i], "--limit-seconds") == 0) {
            known = parse_count(argv[i + 1], 1, 3600, &value);
            settings.limit_ns = (int64_t)value * 1000000000LL;
        } else {
            known = false;
        }

        if (!known) {
            fprintf(stderr, "tox_bench: '%s %s' is not understood: the options are --messages N (1-10000000), "
                    "--paced M (1-1000000), --connects K (1-100) and --limit-seconds S (1-3600).\n", argv[i],
                    i + 1 < argc ? argv[i + 1] : "");
            return 1;
        }
    }

    double *connects = calloc((size_t)settings.connects, sizeof *connects);
    double *online = calloc((size_t)settings.connects, sizeof *online);
    struct pair *pair = NULL;
    for (int run = 0; run < settings.connects; run++) {
        free(pair);
        pair = calloc(1, sizeof *pair);
        if (pair == NULL || connects == NULL || online == NULL) {
            fprintf(stderr, "tox_bench: out of memory.\n");
            return 1;
        }

        pair->settings = &settings;
        pair->exchange = run == settings.connects - 1;
        if (pair->exchange) {
            pair->receiver.latency_capacity = (size_t)settings.paced;
            pair->receiver.latencies = calloc((size_t)settings.paced, sizeof(double));
            if (pair->receiver.latencies == NULL) {
                fprintf(stderr, "tox_bench: out of memory.\n");
                return 1;
            }
        }

        if (!run_pair(pair)) {
            fprintf(stderr, "tox_bench: pair %d: %s\n", run + 1, pair->outcome.failure);
            return 1;
        }

        connects[run] = pair->outcome.delivered_ms;
        online[run] = pair->outcome.online_ms;
        fprintf(stderr, "tox pair %d: both connected after %.1f ms, first message delivered after %.1f ms\n", run + 1,
                online[run], connects[run]);
    }

    struct peer *receiver = &pair->receiver;
    if (receiver->latency_count != settings.paced) {
        fprintf(stderr, "tox_bench: %zu of the %" PRIu64 " paced messages were timed at the receiver.\n",
                receiver->latency_count, settings.paced);
        return 1;
    }

    qsort(receiver->latencies, receiver->latency_count, sizeof(double), compare_doubles);
    qsort(connects, (size_t)settings.connects, sizeof(double), compare_doubles);
    qsort(online, (size_t)settings.connects, sizeof(double), compare_doubles);
    printf("tox_version=%u.%u.%u\n", tox_version_major(), tox_version_minor(), tox_version_patch());
    printf("tox_msgs_per_s=%.1f\n", (double)settings.messages / pair->outcome.burst_received_s);
    printf("tox_acked_msgs_per_s=%.1f\n", (double)settings.messages / pair->outcome.burst_acknowledged_s);
    printf("tox_latency_p50_us=%.1f\n", percentile(receiver->latencies, receiver->latency_count, 50));
    printf("tox_latency_p99_us=%.1f\n", percentile(receiver->latencies, receiver->latency_count, 99));
    printf("tox_connect_ms=%.1f\n", percentile(connects, (size_t)settings.connects, 50));
    printf("tox_online_ms=%.1f\n", percentile(online, (size_t)settings.connects, 50));
    printf("messages=%" PRIu64 "\n", settings.messages);
    printf("paced=%" PRIu64 "\n", settings.paced);
    printf("connects=%d\n", settings.connects);
    free(receiver->latencies);
    free(pair);
    free(connects);
    free(online);
    return 0;
}
