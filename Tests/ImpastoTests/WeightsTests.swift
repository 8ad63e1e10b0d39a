import XCTest
@testable import Impasto

final class WeightsTests: XCTestCase {
    let dir = Golden.div8.dir

    func testAllThreeFormatsGiveTheSameTensors() throws {
        let safe = try WeightsFile.load(dir.appendingPathComponent("vgg19.safetensors"))
        for file in ["vgg19_zip.pth", "vgg19_legacy.pth"] {
            let other = try WeightsFile.load(dir.appendingPathComponent(file))
            XCTAssertEqual(other.convs.keys.sorted(), safe.convs.keys.sorted(), file)
            for (i, c) in safe.convs {
                XCTAssertEqual(other.convs[i]!.weight, c.weight, "\(file) features.\(i).weight")
                XCTAssertEqual(other.convs[i]!.bias, c.bias, "\(file) features.\(i).bias")
                XCTAssertEqual(other.convs[i]!.cout, c.cout)
            }
        }
    }

    func testPickleRefusesCodeExecution() throws {
        // The classic exploit: os.system via REDUCE.
        let evil = Data([0x80, 0x02]) + Data("cos\nsystem\n".utf8) + Data([0x58, 2, 0, 0, 0]) + Data("id".utf8)
            + Data([0x85, 0x52, 0x2E])
        XCTAssertThrowsError(try Pickle.load(evil, name: "evil.pth")) { XCTAssertTrue("\($0)".contains("os.system"), "\($0)") }
        let builtins = Data([0x80, 0x02]) + Data("cbuiltins\neval\n".utf8) + Data([0x2E])
        XCTAssertThrowsError(try Pickle.load(builtins, name: "evil.pth"))
        // Opcodes outside the state-dict subset (INST) are refused too.
        XCTAssertThrowsError(try Pickle.load(Data([0x80, 0x02, 0x69]) + Data("os\nsystem\n".utf8), name: "x"))
    }

    func testDamagedCheckpointsAreRefusedWithoutCrashing() throws {
        let tmp = try temporaryDirectory()
        for file in ["vgg19_zip.pth", "vgg19_legacy.pth", "vgg19.safetensors"] {
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            var rng = TestRNG(UInt64(data.count))
            var cases: [Data] = [Data(), data.prefix(data.count / 2), data.prefix(7)]
            for _ in 0..<20 {  // random byte damage
                var d = data
                for _ in 0..<8 { d[Int(rng.next() % UInt64(d.count))] = UInt8(rng.next() & 0xFF) }
                cases.append(d)
            }
            for (k, d) in cases.enumerated() {
                let url = tmp.appendingPathComponent("\(k)-\(file)")
                try d.write(to: url)
                // Damage either fails cleanly or (when it hit padding or digits) loads finite weights.
                do {
                    let w = try WeightsFile.load(url)
                    XCTAssertTrue(w.convs.values.allSatisfy { $0.weight.allSatisfy(\.isFinite) })
                } catch let e as WeightsError {
                    XCTAssertFalse(e.description.isEmpty)
                    XCTAssertFalse(e.description.contains("\n"), e.description)
                }
            }
        }
    }
}
