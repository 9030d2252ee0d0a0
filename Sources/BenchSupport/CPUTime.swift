#if canImport(Glibc)
    import Glibc
#endif

/// CPU time (user plus system) spent so far, read with `getrusage`, for the benchmark tools'
/// per-message CPU figures.
public enum CPUTime {
    /// The whole process's CPU time so far, in seconds: every thread's, the I/O thread's included.
    public static func process() -> Double { seconds(RUSAGE_SELF.rawValue) }

    /// The calling thread's CPU time so far, in seconds (Linux's RUSAGE_THREAD).
    public static func thread() -> Double { seconds(1) }  // RUSAGE_THREAD, which Glibc does not import

    private static func seconds(_ who: Int32) -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(who), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
