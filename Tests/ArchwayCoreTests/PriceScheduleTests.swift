import ArchwayCore
import Testing

@Suite struct PriceScheduleTests {
    @Test(arguments: [
        ("16:30-00:30", 16 * 60 + 30, true), ("16:30-00:30", 23 * 60 + 59, true), ("16:30-00:30", 0, true),
        ("16:30-00:30", 29, true), ("16:30-00:30", 30, false), ("16:30-00:30", 16 * 60 + 29, false),
        ("09:00-17:00", 9 * 60, true), ("09:00-17:00", 17 * 60, false), ("00:00-24:00", 12 * 60, true),
    ])
    func windowsCoverTheirMinutes(window: String, minute: Int, covered: Bool) throws {
        let parsed = try #require(DailyWindow(parsing: window))
        #expect(parsed.contains(minute: minute) == covered)
    }

    @Test(arguments: ["", "9:00-10:00", "25:00-01:00", "10:60-11:00", "10:00", "10:00-11:00-12:00", "aa:bb-cc:dd", "10:00-10:00", "00:00-00:00"])
    func malformedWindowsAreRejected(_ text: String) {
        #expect(DailyWindow(parsing: text) == nil)
    }

    @Test func overlapsAcrossMidnightAreFound() throws {
        let night = try #require(DailyWindow(parsing: "22:00-02:00"))
        #expect(night.overlaps(try #require(DailyWindow(parsing: "01:00-03:00"))))
        #expect(night.overlaps(try #require(DailyWindow(parsing: "23:00-23:30"))))
        #expect(!night.overlaps(try #require(DailyWindow(parsing: "02:00-22:00"))))
        #expect(night.description == "22:00-02:00")
    }

    @Test func theFirstMatchingWindowWinsAndTheBaseAppliesOutside() throws {
        let base = ModelPrice(input: 0.27, output: 1.10)
        let offPeak = ModelPrice(input: 0.135, output: 0.55)
        let schedule = PriceSchedule(base: base, entries: [.init(window: try #require(DailyWindow(parsing: "16:30-00:30")), price: offPeak)])
        #expect(schedule.price(atMinute: 17 * 60) == offPeak)
        #expect(schedule.price(atMinute: 12 * 60) == base)
        // 2026-12-01T16:30:00Z and 16:29:59Z
        #expect(schedule.price(atUnixSeconds: 1_796_142_600) == offPeak)
        #expect(schedule.price(atUnixSeconds: 1_796_142_599) == base)
    }
}
