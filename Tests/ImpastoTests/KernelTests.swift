import XCTest
@testable import Impasto

/// Every kernel against a plain Swift reference (filled in by the engine).
final class KernelTests: XCTestCase {
    func testSaxpySmall() throws {
        let ctx = TestEnv.context
        let x: [Float] = [1, 2, 3], y: [Float] = [1, 1, 1]
        let bx = try ctx.buffer(x), by = try ctx.buffer(y)
        try ctx.kernel("saxpy", "saxpy").launch(global: [3], local: [4], .i(3), .f(2), .b(bx), .b(by))
        XCTAssertEqual(try by.read(), [3, 5, 7])
    }
}
