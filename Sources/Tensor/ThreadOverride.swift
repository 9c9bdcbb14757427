import Foundation

/// A choice one thread can override for the length of a closure, over the process-wide default: `value` is nil outside
/// `with`, the innermost `with`'s value inside it. Other threads keep theirs (tests comparing two paths run side by
/// side; `bench sd --alternate` switches within one process). An operation's `Parallel.forRanges`/`forEach` workers do
/// not inherit it: overridden choices are read where an operation starts, on the calling thread (`FLOPCounter`'s mark
/// is handed on explicitly); `Parallel.concurrently`'s tasks, which start operations of their own, get all of the
/// caller's (`ThreadOverrides`).
/// Values are stored as their index in `cases` (+1) in one pthread key.
public final class ThreadOverride<Value: Equatable>: @unchecked Sendable {
    private let key: pthread_key_t
    private let cases: [Value]

    public init(_ cases: [Value]) {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        self.key = key
        self.cases = cases
        ThreadOverrides.register(key)
    }

    /// This thread's override, nil where none is in force.
    public var value: Value? {
        pthread_getspecific(key).map { cases[Int(bitPattern: $0) - 1] }
    }

    /// Runs `body` with this thread's override set to `value` (nil: none), restoring the previous one after.
    public func with<T>(_ value: Value?, _ body: () throws -> T) rethrows -> T {
        let saved = pthread_getspecific(key)
        let index = value.map { v in cases.firstIndex { $0 == v }! + 1 }
        pthread_setspecific(key, index.flatMap { UnsafeRawPointer(bitPattern: $0) })
        defer { pthread_setspecific(key, saved) }
        return try body()
    }
}

extension ThreadOverride where Value: CaseIterable, Value.AllCases == [Value] {
    public convenience init() { self.init(Value.allCases) }
}

extension ThreadOverride where Value == Bool {
    public convenience init() { self.init([false, true]) }
}

/// Every `ThreadOverride`'s value on one thread, to hand to work that continues on another (`Parallel.concurrently`):
/// the worker then computes as the caller asked (Winograd off, bf16 on, FLOPs counted, …).
public struct ThreadOverrides: @unchecked Sendable {
    private nonisolated(unsafe) static var keys: [pthread_key_t] = []
    private static let lock = NSLock()
    private let values: [(pthread_key_t, UnsafeMutableRawPointer?)]

    static func register(_ key: pthread_key_t) {
        lock.lock(); defer { lock.unlock() }
        keys.append(key)
    }

    /// This thread's overrides.
    public static func current() -> ThreadOverrides {
        lock.lock(); let all = keys; lock.unlock()
        return ThreadOverrides(values: all.map { ($0, pthread_getspecific($0)) })
    }

    /// Runs `body` on this thread with the captured overrides in force, restoring this thread's own after.
    public func apply<T>(_ body: () throws -> T) rethrows -> T {
        let saved = values.map { pthread_getspecific($0.0) }
        for (key, value) in values { pthread_setspecific(key, value) }
        defer { for ((key, _), value) in zip(values, saved) { pthread_setspecific(key, value) } }
        return try body()
    }
}
