import Messaging
import Testing

@Suite struct RecentMessageIDsTests {
    @Test func duplicatesAreRecognisedWithinTheWindow() {
        let ids = RecentMessageIDs(capacity: 2)
        #expect(ids.insert("a"))
        #expect(!ids.insert("a"))
        #expect(ids.insert("b"))
        #expect(ids.insert("c"))  // forgets "a"
        #expect(!ids.contains("a"))
        #expect(ids.contains("b") && ids.contains("c"))
        #expect(ids.insert("a"))
    }

    @Test func removedIDsCanBeHandledAgain() {
        let ids = RecentMessageIDs(capacity: 4)
        #expect(ids.insert("x"))
        ids.remove("x")
        #expect(ids.insert("x"))
    }
}
