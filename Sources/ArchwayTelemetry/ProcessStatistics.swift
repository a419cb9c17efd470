#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The gateway process's own resource use, as the OpenTelemetry process metrics report it: CPU time by
/// mode, resident and virtual memory, threads and open file descriptors. Read from the kernel
/// (`getrusage`, and on Linux `/proc/self`); what a platform does not offer is nil.
public struct ProcessStatistics: Sendable, Equatable {
    public var userCPUSeconds: Double
    public var systemCPUSeconds: Double
    public var residentBytes: Int?
    public var virtualBytes: Int?
    public var threads: Int?
    public var openFileDescriptors: Int?

    /// The statistics now.
    public static func current() -> ProcessStatistics {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        var statistics = ProcessStatistics(
            userCPUSeconds: Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            systemCPUSeconds: Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        )
        #if os(Linux)
        if let statm = readSmallFile("/proc/self/statm"), let memory = parseStatm(statm, pageSize: sysconf(Int32(_SC_PAGESIZE))) {
            statistics.virtualBytes = memory.virtual
            statistics.residentBytes = memory.resident
        }
        if let stat = readSmallFile("/proc/self/stat") {
            statistics.threads = parseThreadCount(stat: stat)
        }
        statistics.openFileDescriptors = countEntries(in: "/proc/self/fd")
        #endif
        return statistics
    }

    public init(userCPUSeconds: Double, systemCPUSeconds: Double, residentBytes: Int? = nil, virtualBytes: Int? = nil, threads: Int? = nil, openFileDescriptors: Int? = nil) {
        self.userCPUSeconds = userCPUSeconds
        self.systemCPUSeconds = systemCPUSeconds
        self.residentBytes = residentBytes
        self.virtualBytes = virtualBytes
        self.threads = threads
        self.openFileDescriptors = openFileDescriptors
    }

    /// `/proc/self/statm`: sizes in pages, the first two the whole program and its resident part.
    static func parseStatm(_ bytes: some Collection<UInt8>, pageSize: Int) -> (virtual: Int, resident: Int)? {
        let fields = bytes.split(separator: UInt8(ascii: " "), maxSplits: 2)
        guard fields.count >= 2, let virtual = decimal(fields[0]), let resident = decimal(fields[1]), pageSize > 0 else { return nil }
        let (virtualBytes, virtualOverflow) = virtual.multipliedReportingOverflow(by: pageSize)
        let (residentBytes, residentOverflow) = resident.multipliedReportingOverflow(by: pageSize)
        guard !virtualOverflow, !residentOverflow else { return nil }
        return (virtualBytes, residentBytes)
    }

    /// `/proc/self/stat`'s 20th field. The second, the command name in parentheses, may hold spaces and
    /// parentheses of its own, so the fields are counted from the last `)`.
    static func parseThreadCount(stat bytes: some BidirectionalCollection<UInt8>) -> Int? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After the name: field 3 (state) onwards; the thread count is field 20.
        let fields = bytes[bytes.index(after: close)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 17 else { return nil }
        return decimal(fields[17])
    }

    /// A non-negative decimal of at most 18 digits (no overflow), or nil.
    static func decimal(_ digits: some Collection<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    #if os(Linux)
    /// Reads a `/proc` file of at most 1 KiB (their reported size is 0, so read until the end).
    private static func readSmallFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 1024)
        var count = 0
        while count < bytes.count {
            let read = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + count, $0.count - count) }
            if read < 0, errno == EINTR { continue }
            guard read > 0 else { break }
            count += read
        }
        guard count > 0 else { return nil }
        bytes.removeSubrange(count...)
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        return bytes
    }

    /// The entries of a directory, `.` and `..` aside: for `/proc/self/fd`, the open descriptors (the
    /// one this listing holds open counted out).
    private static func countEntries(in path: String) -> Int? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDots = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == UInt8(ascii: ".") && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
            }
            if !isDots { count += 1 }
        }
        return max(count - 1, 0)
    }
    #endif
}
