@testable import ArchwayGateway
import Testing

@Suite("A client connection's requests")
struct ClientConnectionTests {
    @Test("a request still running when the one before it leaves stays cancellable by the client's close", .timeLimit(.minutes(1)))
    func overlappingRequestsStayCancellable() async throws {
        let connection = ClientConnection()
        let (firstEntered, enteredFirst) = AsyncStream.makeStream(of: Void.self)
        let (secondEntered, enteredSecond) = AsyncStream.makeStream(of: Void.self)
        let (firstMayLeave, leaveFirst) = AsyncStream.makeStream(of: Void.self)

        let first = Task {
            try await connection.run {
                enteredFirst.yield()
                for await _ in firstMayLeave { break }
            }
        }
        for await _ in firstEntered { break }
        let second = Task {
            try await connection.run {
                enteredSecond.yield()
                // Until cancelled: the client's close is what ends it.
                try await Task.sleep(for: .seconds(50))
            }
        }
        for await _ in secondEntered { break }
        leaveFirst.yield()
        try await first.value

        connection.clientClosed()
        await #expect(throws: CancellationError.self) { try await second.value }
    }

    @Test("a request that starts after the client closed is refused")
    func refusedAfterClose() async {
        let connection = ClientConnection()
        connection.clientClosed()
        await #expect(throws: CancellationError.self) { try await connection.run {} }
    }
}
