@testable import ArchwayTelemetry
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Reading the process's resource use")
struct ProcessStatisticsTests {
    @Test("statm: the first two fields in pages, as bytes")
    func statm() {
        let parsed = ProcessStatistics.parseStatm(Array("2750 1024 512 100 0 700 0".utf8), pageSize: 4096)
        #expect(parsed?.virtual == 2750 * 4096)
        #expect(parsed?.resident == 1024 * 4096)
        #expect(ProcessStatistics.parseStatm(Array("2750".utf8), pageSize: 4096) == nil)
        #expect(ProcessStatistics.parseStatm(Array("x 1".utf8), pageSize: 4096) == nil)
        #expect(ProcessStatistics.parseStatm(Array("".utf8), pageSize: 4096) == nil)
        #expect(ProcessStatistics.parseStatm(Array("999999999999999999 1".utf8), pageSize: 4096) == nil, "overflow is no value")
    }

    @Test("stat: the thread count is counted from the end of the command name, which may hold ') '")
    func threadCount() {
        let tail = " S 1 10 10 0 -1 4194560 500 0 0 0 12 3 0 0 20 0 7 0 123456 1000000 250 18446744073709551615"
        #expect(ProcessStatistics.parseThreadCount(stat: Array(("4242 (archway)" + tail).utf8)) == 7)
        #expect(ProcessStatistics.parseThreadCount(stat: Array(("4242 (a) b (c) d)" + tail).utf8)) == 7)
        #expect(ProcessStatistics.parseThreadCount(stat: Array("4242 (archway) S 1 2".utf8)) == nil)
        #expect(ProcessStatistics.parseThreadCount(stat: Array("no name".utf8)) == nil)
    }

    #if os(Linux)
    @Test("read from the kernel: memory and threads present, descriptors follow opens and closes")
    func currentReadsTheKernel() throws {
        let before = ProcessStatistics.current()
        let resident = try #require(before.residentBytes)
        #expect(resident > 1 << 20)
        #expect(try #require(before.virtualBytes) >= resident)
        #expect(try #require(before.threads) >= 1)
        #expect(before.userCPUSeconds + before.systemCPUSeconds > 0)
        // Other tests open and close sockets meanwhile, so the count is read around one pipe until a
        // quiet moment shows it exactly: two more while the pipe is open, as many as before once closed.
        var followed = false
        for _ in 0..<50 where !followed {
            let start = try #require(ProcessStatistics.current().openFileDescriptors)
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            let during = ProcessStatistics.current().openFileDescriptors
            close(ends[0])
            close(ends[1])
            let after = ProcessStatistics.current().openFileDescriptors
            followed = during == start + 2 && after == start
        }
        #expect(followed)
    }
    #endif
}
