#!/usr/bin/env python3
"""CPU of a SecureChat node by stage, from the profiles `SecureChat.Bench.Wire --profile DIR` writes.

Usage: convert each .nettrace first (dotnet-trace convert --format speedscope -o X.json X.nettrace,
which writes X.speedscope.json), then:
bench/profile-summary.py DIR/burst-sender.speedscope.json DIR/burst-receiver.speedscope.json ...

The sampler takes every managed thread's stack each millisecond, whether the thread runs or waits,
so the samples are thread time, not CPU time. This script keeps the samples of threads at work:
it drops those blocked in a wait (a semaphore, a monitor, the socket engine's epoll, a sleep), and
counts the idle thread-pool workers that spin before they sleep on a line of their own, outside
the 100 %. Each remaining sample goes to one stage, by the innermost SecureChat frame that names
one and the innermost library frame (OpenSSL or libsodium, SQLite, protobuf, the runtime's
threading). A commit's samples include the wait for fsync: the sampler cannot tell the two apart.
"""
import collections
import json
import sys

# A thread whose last managed frame is one of these is waiting, not working.
WAITS = ('LowLevelLifoSemaphore.WaitNative', 'WaitHandle.WaitOneNoCheck', 'Monitor.Wait(', '?!?',
         'WorkerThread.WorkerThreadStart', 'Thread.StartCore', 'Thread.Sleep', 'WaitForSocketEvents',
         'ReadLine', 'Interop+Sys.Read(', 'Interop+Sys.Poll', 'TimerQueue.TimerThread')
LIBRARIES = [('crypto', ('Cryptography!', 'NSec', 'Libsodium', 'HMAC', 'HKDF', 'ChaCha')),
             ('protobuf', ('Google.Protobuf', 'pb::')),
             ('sqlite', ('SQLite', 'Sqlite')),
             ('logging', ('Logging',)),
             ('gc', ('PollGC', 'GC', 'MemberwiseClone', 'ZeroMemory')),
             ('sockets', ('System.Net.Sockets', 'Pipelines')),
             ('threading', ('System.Threading', 'System.Runtime.CompilerServices'))]
PLACES = [('bench', ('BenchHome', 'Profiler', 'NETCore.Client')),
          ('search', ('Search',)),
          ('sealing', ('SealText', 'OpenText')),
          ('padding', ('Padding', '.Pad(')),
          ('ratchet', ('Ratchet',)),
          ('channel', ('SecureChat.Net', 'Protocol.Channel', 'Noise')),
          ('store', ('Outbox', 'MessageLog', 'NodeSessionStore', 'LocalStore', 'Contact')),
          ('session', ('PeerSession', 'LinkSession', 'ChatNode'))]
STAGES = ['ratchet: AEAD and chain-key derivation', 'ratchet: other',
          'channel: Noise AEAD, framing, socket reads/writes', 'store: sealing the text',
          'SQLite: statements (insert, update, select)', 'SQLite: commit (includes the fsync wait)',
          'store: own code (IDs as hex, batching)', 'store lock: contention (spin, wake-ups)',
          'protobuf encode/parse', 'padding', 'search index', 'logging', 'peer session, node',
          'task scheduling, locks, channels (runtime)', 'GC and allocation (sampled)',
          'bench driver (draining poll)', 'other']


def samples(path):
    """Thread time per stack (tuple of frame names, root first) in a speedscope file."""
    data = json.load(open(path))
    names = [f['name'] for f in data['shared']['frames']]
    weights = collections.Counter()
    for profile in data['profiles']:
        stack, last = [], None
        for event in profile['events']:
            if last is not None and stack:
                weights[tuple(stack)] += event['at'] - last
            last = event['at']
            if event['type'] == 'O':
                stack.append(names[event['frame']])
            else:
                name = names[event['frame']]
                while stack and stack[-1] != name:
                    stack.pop()
                if stack:
                    stack.pop()
    return weights


def working(weights):
    """The stacks of threads at work; TraceEvent ends each with CPU_TIME or UNMANAGED_CODE_TIME."""
    for stack, ms in weights.items():
        if stack[-1] == 'CPU_TIME' or (stack[-1] == 'UNMANAGED_CODE_TIME' and not any(w in stack[-2] for w in WAITS)):
            yield stack[:-1], ms


def idle_spin(stack):
    return any('LowLevelLifoSemaphore' in f for f in stack[-4:]) and not any('Dispatch' in f for f in stack)


def first(stack, table, own_only):
    for frame in reversed(stack):
        for name, keys in table:
            if (not own_only or 'SecureChat' in frame) and any(k in frame for k in keys):
                return name
    return None


def stage(stack):
    place, library = first(stack, PLACES, True), first(stack, LIBRARIES, False)
    if place == 'bench':
        return 'bench driver (draining poll)'
    if library == 'logging':
        return 'logging'
    if library == 'protobuf':
        return 'protobuf encode/parse'
    if place == 'padding':
        return 'padding'
    if place == 'search':
        return 'search index'
    if place == 'ratchet':
        return 'ratchet: AEAD and chain-key derivation' if library == 'crypto' else 'ratchet: other'
    if place == 'channel' or library == 'sockets':
        return 'channel: Noise AEAD, framing, socket reads/writes'
    if place == 'sealing':
        return 'store: sealing the text'
    if library == 'sqlite':
        committing = any('Transaction.Commit' in f for f in stack)
        return 'SQLite: commit (includes the fsync wait)' if committing else 'SQLite: statements (insert, update, select)'
    if any('Lock.TryEnterSlow' in f or 'ContentionStart' in f for f in stack) or (
            any('LocalStore.Run' in f for f in stack) and any(w in stack[-1] for w in ('SpinWaiter', 'SetEvent', 'WaitOneNoCheck', 'Monitor'))):
        return 'store lock: contention (spin, wake-ups)'
    if place == 'store':
        return 'store: own code (IDs as hex, batching)'
    if library == 'gc':
        return 'GC and allocation (sampled)'
    if place == 'session':
        return 'peer session, node'
    if library == 'threading':
        return 'task scheduling, locks, channels (runtime)'
    return 'other'


def main(paths):
    columns = []
    for path in paths:
        by_stage, spin = collections.Counter(), 0.0
        for stack, ms in working(samples(path)):
            if idle_spin(stack):
                spin += ms
            else:
                by_stage[stage(stack)] += ms
        work = sum(by_stage.values())
        columns.append((by_stage, work, spin))
    print('| stage | ' + ' | '.join(p.rsplit('/', 1)[-1].removesuffix('.json') for p in paths) + ' |')
    print('|---|' + '---|' * len(paths))
    for name in STAGES:
        print(f'| {name} | ' + ' | '.join(f'{100 * s[name] / w:.1f}' for s, w, _ in columns) + ' |')
    print('| (idle workers spinning, % of the samples at work) | ' + ' | '.join(f'{100 * sp / (w + sp):.0f}' for _, w, sp in columns) + ' |')
    print('| (thread time in the 100 %, ms) | ' + ' | '.join(f'{w:.0f}' for _, w, _ in columns) + ' |')


if __name__ == '__main__':
    main(sys.argv[1:])
