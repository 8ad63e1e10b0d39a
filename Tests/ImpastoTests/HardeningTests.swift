import CImageFixtures
import XCTest
@testable import Impasto

/// Hostile inputs, environments and signals (one test per class of failure): impasto never
/// loses a file, crashes, hangs or leaves a partial file; every refusal is one line on stderr
/// with a non-zero exit below 128.
final class HardeningTests: XCTestCase {
    let golden = Golden.div8
    var tmp: URL!
    override func setUpWithError() throws { tmp = try temporaryDirectory() }
    func path(_ name: String) -> String { tmp.appendingPathComponent(name).path }

    /// Copies of the golden inputs in the temporary folder, so a test may try to overwrite them.
    func inputs() throws -> (content: String, style: String, weights: String) {
        let fm = FileManager.default
        for name in ["content.png", "style.png", "vgg19.safetensors"] where !fm.fileExists(atPath: path(name)) {
            try fm.copyItem(atPath: golden.dir.appendingPathComponent(name).path, toPath: path(name))
        }
        return (path("content.png"), path("style.png"), path("vgg19.safetensors"))
    }

    func stylize(_ extra: [String], output: String? = nil, timeout: TimeInterval = 120) throws -> (status: Int32, stdout: String, stderr: String) {
        let (c, s, w) = try inputs()
        return try runProcess(try impastoBinary(), ["stylize", "--content", c, "--style", s, "--weights", w,
                                                    "--output", output ?? path("out.png"), "--iterations", "1", "--quiet"] + extra,
                              timeout: timeout)
    }

    func assertRefused(_ r: (status: Int32, stdout: String, stderr: String), _ needle: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue((1..<128).contains(r.status), "exit \(r.status): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("impasto: ") && r.stderr.filter { $0 == "\n" }.count == 1, "one line: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "'\(needle)' in: \(r.stderr)", file: file, line: line)
    }

    func digest(_ p: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: p)) }

    // MARK: data loss

    /// --log, --output, --progress-image and --save-every snapshots never write over an input,
    /// by identity (a hard link and a symlink count), and never replace what is not a file.
    func testNoOutputOverwritesAnInputOrASpecialFile() throws {
        let (c, s, w) = try inputs()
        let before = try [c, s, w].map(digest)
        try FileManager.default.linkItem(atPath: s, toPath: path("hardlink.png"))
        try FileManager.default.createSymbolicLink(atPath: path("symlink.png"), withDestinationPath: c)
        assertRefused(try stylize(["--log", c]), "is the input --content")
        assertRefused(try stylize(["--log", w]), "is the input --weights")
        assertRefused(try stylize(["--log", tmp.appendingPathComponent(".").appendingPathComponent("style.png").path]), "is the input --style")
        assertRefused(try stylize([], output: path("hardlink.png")), "is the input --style")
        assertRefused(try stylize([], output: path("symlink.png")), "symbolic link")
        assertRefused(try stylize(["--progress-image", path("symlink.png")]), "symbolic link")
        // A snapshot's name (OUT-0001.png) that is an input.
        try FileManager.default.copyItem(atPath: c, toPath: path("out-0001.png"))
        let snapshotBefore = try digest(path("out-0001.png"))
        let (_, s2, w2) = try inputs()
        let r = try runProcess(try impastoBinary(), ["stylize", "--content", path("out-0001.png"), "--style", s2, "--weights", w2,
                                                     "--output", path("out.png"), "--iterations", "3", "--save-every", "1", "--quiet"])
        assertRefused(r, "is the input --content")
        XCTAssertEqual(try digest(path("out-0001.png")), snapshotBefore)
        XCTAssertEqual(try [c, s, w].map(digest), before, "an input changed")
        // A log appends to a character device and leaves it one.
        XCTAssertEqual(try stylize(["--log", "/dev/null"]).status, 0)
        var st = stat()
        XCTAssertEqual(stat("/dev/null", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR, "/dev/null is still a device")
        // A log through a symlink writes the link's target and keeps the link.
        FileManager.default.createFile(atPath: path("real.jsonl"), contents: nil)
        try FileManager.default.createSymbolicLink(atPath: path("log-link.jsonl"), withDestinationPath: path("real.jsonl"))
        XCTAssertEqual(try stylize(["--log", path("log-link.jsonl")]).status, 0)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: path("log-link.jsonl")), path("real.jsonl"))
        XCTAssertGreaterThan(try digest(path("real.jsonl")).count, 10)
    }

    /// Every output location is checked before any work: nothing is written when one is bad.
    func testOutputLocationsAreCheckedBeforeWork() throws {
        let r = try stylize(["--iterations", "3", "--save-every", "1", "--progress-image", path("missing/p.png")])
        assertRefused(r, "does not exist")
        let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { !["content.png", "style.png", "vgg19.safetensors"].contains($0) }
        XCTAssertEqual(left, [], "files written before the refusal")
        // A bad input leaves no (empty) log behind either: the log is opened after the inputs are read.
        FileManager.default.createFile(atPath: path("bad.png"), contents: Data("not a picture".utf8))
        let (_, s, w) = try inputs()
        assertRefused(try runProcess(try impastoBinary(), ["stylize", "--content", path("bad.png"), "--style", s, "--weights", w,
                                                           "--output", path("o.png"), "--log", path("never.jsonl"), "--quiet"]), "not a PNG or JPEG")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("never.jsonl")))
    }

    // MARK: hangs and special inputs

    /// A FIFO with no writer, a directory, a device, a link loop: refused at once, by name,
    /// on one line (a newline in a path is escaped).
    func testNonRegularInputsAreRefused() throws {
        XCTAssertEqual(mkfifo(path("fifo"), 0o600), 0)
        try FileManager.default.createSymbolicLink(atPath: path("loop1"), withDestinationPath: path("loop2"))
        try FileManager.default.createSymbolicLink(atPath: path("loop2"), withDestinationPath: path("loop1"))
        let (_, s, w) = try inputs()
        func run(content: String, weights: String) throws -> (status: Int32, stdout: String, stderr: String) {
            try runProcess(try impastoBinary(), ["stylize", "--content", content, "--style", s, "--weights", weights,
                                                 "--output", path("o.png"), "--iterations", "1", "--quiet"], timeout: 30)
        }
        assertRefused(try run(content: path("fifo"), weights: w), "FIFO")
        assertRefused(try run(content: s, weights: path("fifo")), "FIFO")
        assertRefused(try run(content: tmp.path, weights: w), "is a directory")
        assertRefused(try run(content: s, weights: tmp.path), "is a directory")
        assertRefused(try run(content: s, weights: "/dev/zero"), "character device")
        assertRefused(try run(content: path("loop1"), weights: w), "symbolic links")
        assertRefused(try run(content: path("no\nsuch.png"), weights: w), "no\\x0asuch.png")
        // The library refuses the same way, reading nothing.
        XCTAssertThrowsError(try ImageFile.read(path("fifo"))) { XCTAssertTrue("\($0)".contains("FIFO"), "\($0)") }
        XCTAssertThrowsError(try WeightsFile.load(URL(fileURLWithPath: "/dev/urandom"))) { XCTAssertTrue("\($0)".contains("character device"), "\($0)") }
    }

    // MARK: sizes and numbers

    func testSizesAndCountsThatCannotFitAreRefused() throws {
        assertRefused(try stylize(["--size", "65536x65536"]), "of host memory")
        assertRefused(try stylize(["--max-size", "65536"]), "of host memory")
        assertRefused(try stylize(["--iterations", "9223372036854775807", "--scales", "2"]), "--iterations must be between")
        assertRefused(try stylize(["--scale-iterations", "9223372036854775807,1", "--scales", "2"]), "--scale-iterations")
        assertRefused(try runProcess(try impastoBinary(), ["bench", "--size", "65536x65536"]), "of host memory")
        assertRefused(try runProcess(try impastoBinary(), ["profile", "--size", "12000x12000"]), "of device memory")
    }

    /// Options whose values mislead or cut a message: each names the option and the problem.
    func testUnclearErrorsNameTheProblem() throws {
        assertRefused(try stylize(["--max-memory", "0.5"]), "--max-memory 0.5 is below 16M")
        assertRefused(try stylize(["--device", "no\nsuch"]), "no\\x0asuch")
        // A full disk while logging (/dev/full: every write fails with ENOSPC).
        assertRefused(try stylize(["--log", "/dev/full"]), "no space left")
    }

    /// A file that shrinks while it is read is an error naming it, not SIGBUS (nothing is mapped).
    func testFileTruncatedWhileReadIsAnError() throws {
        let p = path("shrinking.bin")
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: p))
        let reader = try InputFile.Reader(p)
        XCTAssertEqual(truncate(p, 1000), 0)
        XCTAssertThrowsError(try reader.readAll(maxBytes: 1 << 30)) { XCTAssertTrue("\($0)".contains("truncated while read"), "\($0)") }
    }

    // MARK: signals

    /// A closed or broken stderr never stops the run: the output is still written.
    func testBrokenStderrDoesNotStopTheWork() throws {
        let (c, s, w) = try inputs()
        let args = "stylize --content '\(c)' --style '\(s)' --weights '\(w)' --iterations 3 --size 32x24"
        for (name, redirect) in [("closed.png", "2>&-"), ("piped.png", "2>&1 | head -c 1 >/dev/null")] {
            let r = try runProcess("/bin/bash", ["-c", "'\(try impastoBinary())' \(args) --output '\(path(name))' \(redirect); echo ${PIPESTATUS[0]} > '\(path(name)).rc'"])
            XCTAssertEqual(r.status, 0)
            XCTAssertEqual(try String(contentsOfFile: path(name) + ".rc", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
                           "0", "exit status with \(redirect): \(r.stderr)")
            XCTAssertNoThrow(try ImageFile.read(path(name)), redirect)
        }
    }

    /// SIGTERM is handled as Ctrl-C: the image so far is written, exit 143, no temporary file.
    func testSIGTERMWritesTheImageAndExits143() throws {
        let (c, s, w) = try inputs()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try impastoBinary())
        p.arguments = ["stylize", "--content", c, "--style", s, "--weights", w, "--output", path("term.png"),
                       "--iterations", "100000", "--log", path("term.jsonl"), "--quiet"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? String(contentsOfFile: path("term.jsonl"), encoding: .utf8)) ?? "").isEmpty { usleep(50_000) }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 143)
        XCTAssertNoThrow(try ImageFile.read(path("term.png")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasSuffix(".tmp") }, [])
    }

    // MARK: readers: numbers from files

    /// An EXIF IFD offset near 2^32 must not wrap the bounds check (it read gigabytes past
    /// the marker): the orientation is ignored, the picture read.
    func testEXIFOffsetsNearTheTopOfTheRangeAreIgnored() throws {
        let px = [UInt8](repeating: 200, count: 16 * 8 * 3)
        XCTAssertEqual(fixture_jpeg(path("o.jpg"), 16, 8, px, 0, 6), 0)
        var bytes = [UInt8](try digest(path("o.jpg")))
        let tiff: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0]
        let at = try XCTUnwrap((0..<(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == tiff })
        for offset: [UInt8] in [[0xF0, 0xFF, 0xFF, 0xFF], [0xFE, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0x7F]] {
            bytes.replaceSubrange((at + 4)..<(at + 8), with: offset)
            try Data(bytes).write(to: URL(fileURLWithPath: path("bad.jpg")))
            let img = try ImageFile.read(path("bad.jpg"))
            XCTAssertEqual([img.width, img.height], [16, 8], "orientation ignored")
        }
    }

    /// Deep nesting, huge lengths and overflowing numbers in a pickle are errors, not traps.
    func testPickleRefusesDeepNestingAndHugeLengths() throws {
        func refuses(_ bytes: [UInt8], _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try Pickle.load(Data(bytes), name: "p.pkl"), file: file, line: line) {
                XCTAssertTrue("\($0)".contains(needle), "\($0)", file: file, line: line)
            }
        }
        let depth = 60_000
        refuses([0x80, 2] + [UInt8](repeating: 0x28, count: depth) + [UInt8](repeating: 0x74, count: depth) + [0x2E], "nests deeper")  // MARK…TUPLE
        refuses([0x80, 2, 0x4E] + [UInt8](repeating: 0x85, count: depth) + [0x2E], "nests deeper")  // TUPLE1 of TUPLE1 …
        refuses([0x80, 2] + Array(repeating: [0x5D, 0x28], count: depth).flatMap { $0 } + Array(repeating: [0x65, 0x65], count: depth).flatMap { $0 }, "nests deeper")  // lists in lists
        refuses([0x80, 2, 0x8D, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x61], "truncated")  // BINUNICODE8, length near Int.max
        refuses([0x80, 2, 0x8D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x61], "truncated")  // … and negative as Int
        // A list mutated after it was nested (how a deep value could be built behind the check).
        refuses([0x80, 2, 0x5D, 0x94, 0x85, 0x68, 0, 0x4E, 0x61, 0x2E], "after nesting")
    }

    /// safetensors offsets and shapes that overflow, go negative or declare 100 GB: refused
    /// before any data is read.
    func testSafeTensorsRefusesNumbersThatDoNotFit() throws {
        func file(_ header: String, data: Int = 16, sparseSize: Int? = nil) throws -> URL {
            let url = tmp.appendingPathComponent("t\(UUID().uuidString).safetensors")
            let h = Data(header.utf8)
            var bytes = Data((0..<8).map { UInt8((h.count >> (8 * $0)) & 0xFF) }) + h
            bytes.append(Data(count: data))
            try bytes.write(to: url)
            if let sparseSize { XCTAssertEqual(truncate(url.path, off_t(sparseSize)), 0) }
            return url
        }
        let key = "features.0.weight"
        let cases: [(String, Int?, String)] = [
            ("{\"\(key)\":{\"dtype\":\"F32\",\"shape\":[8,3,3,3],\"data_offsets\":[9223372036854775000,9223372036854775807]}}", nil, "does not fit"),
            ("{\"\(key)\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,3,3],\"data_offsets\":[0,16]}}", nil, "shape"),
            ("{\"\(key)\":{\"dtype\":\"F32\",\"shape\":[-8,3,3,3],\"data_offsets\":[0,16]}}", nil, "shape"),
            ("{\"\(key)\":{\"dtype\":\"F32\",\"shape\":[8,3,3,3],\"data_offsets\":[-16,0]}}", nil, "does not fit"),
            // 100 GB really there (a sparse file): its shape is no VGG19's, so nothing is read.
            ("{\"\(key)\":{\"dtype\":\"F32\",\"shape\":[25000000000],\"data_offsets\":[0,100000000000]}}", 100_000_100_000, "shape"),
        ]
        for (header, sparse, needle) in cases {
            let url = try file(header, sparseSize: sparse)
            let start = Date()
            XCTAssertThrowsError(try SafeTensors.read(url, only: WeightsFile.needed, check: VGGWeights.plausible)) {
                XCTAssertTrue("\($0)".contains(needle), "\($0)")
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 5, "refused without reading the data")
        }
    }

    /// A deflated data.pkl is named as compressed, not "missing".
    func testCompressedZipEntryIsNamed() throws {
        // A zip with one deflated entry, built by hand (local header, central directory, end record).
        let name = Array("archive/data.pkl".utf8)
        func le(_ v: Int, _ n: Int) -> [UInt8] { (0..<n).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        let payload: [UInt8] = [3, 0]  // an empty deflate stream
        let local = le(0x0403_4B50, 4) + le(20, 2) + le(0, 2) + le(8, 2) + le(0, 4) + le(0, 4) + le(payload.count, 4) + le(0, 4)
            + le(name.count, 2) + le(0, 2) + name + payload
        let central = le(0x0201_4B50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(8, 2) + le(0, 4) + le(0, 4) + le(payload.count, 4)
            + le(0, 4) + le(name.count, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) + name
        let end = le(0x0605_4B50, 4) + le(0, 2) + le(0, 2) + le(1, 2) + le(1, 2) + le(central.count, 4) + le(local.count, 4) + le(0, 2)
        let url = tmp.appendingPathComponent("deflated.pth")
        try Data(local + central + end).write(to: url)
        XCTAssertThrowsError(try WeightsFile.load(url)) { XCTAssertTrue("\($0)".contains("compressed"), "\($0)") }
    }

    // MARK: fuzzing (a bounded mutation loop; a crash fails the whole suite)

    /// Byte flips, runs of 0xFF/0x00, truncations and splices of valid PNG, JPEG (with EXIF),
    /// safetensors, zip and legacy .pth files: every one is read or refused with an error.
    func testMutatedFilesAreReadOrRefused() throws {
        var rng = TestRNG(77)
        let px = (0..<(24 * 16 * 3)).map { UInt8($0 % 251) }
        XCTAssertEqual(fixture_jpeg(path("seed.jpg"), 24, 16, px, 0, 3), 0)
        let seeds: [(String, Data)] = [
            ("png", try digest(golden.dir.appendingPathComponent("content.png").path)),
            ("jpg", try digest(path("seed.jpg"))),
            ("safetensors", try digest(golden.weightsURL.path)),
            ("pth", try digest(golden.dir.appendingPathComponent("vgg19_zip.pth").path)),
            ("pth", try digest(golden.dir.appendingPathComponent("vgg19_legacy.pth").path)),
        ]
        let rounds = TestEnv.underOclgrind ? 0 : 60
        var refused = 0, read = 0
        for (ext, seed) in seeds { for round in 0..<rounds {
            var b = [UInt8](seed)
            for _ in 0..<(1 + Int(rng.next() % 8)) {
                let at = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 5 {
                case 0: b[at] ^= UInt8(1 << (rng.next() % 8))
                case 1: for i in at..<min(b.count, at + 8) { b[i] = 0xFF }
                case 2: for i in at..<min(b.count, at + 8) { b[i] = 0 }
                case 3: b = Array(b.prefix(max(1, at)))
                default: b.insert(contentsOf: b[at..<min(b.count, at + 64)], at: Int(rng.next() % UInt64(b.count)))
                }
            }
            let url = tmp.appendingPathComponent("m\(round).\(ext)")
            try Data(b).write(to: url)
            do {
                if ext == "png" || ext == "jpg" { _ = try ImageFile.read(url.path) } else { _ = try WeightsFile.load(url) }
                read += 1
            } catch {
                refused += 1
                XCTAssertFalse("\(error)".contains("\n"), "one line: \(error)")
            }
        } }
        XCTAssertEqual(read + refused, seeds.count * rounds)
    }
}

/// Downloads from a misbehaving server on loopback, concurrent runs, and the caches.
final class DownloadHardeningTests: XCTestCase {
    let golden = Golden.div8
    var tmp: URL!
    override func setUpWithError() throws { tmp = try temporaryDirectory() }
    func path(_ name: String) -> String { tmp.appendingPathComponent(name).path }

    func stylizeArgs(_ out: String) -> [String] {
        ["stylize", "--content", golden.dir.appendingPathComponent("content.png").path,
         "--style", golden.dir.appendingPathComponent("style.png").path, "--output", out, "--iterations", "1", "--quiet"]
    }

    var body: Data { get throws { try Data(contentsOf: golden.dir.appendingPathComponent("vgg19_legacy.pth")) } }

    /// Two first-time downloads at once: one waits for the other; the cache holds one whole,
    /// checked file and no temporary files.
    func testConcurrentFirstDownloadsShareOneCheckedFile() throws {
        let body = try body
        var h = SHA256()
        h.update(body)
        let name = "vgg19-\(h.finalize().prefix(8)).pth"
        let server = try LoopbackServer(files: [name: body])
        defer { server.stop() }
        let env = ["IMPASTO_WEIGHTS_URL": server.url(name), "XDG_CACHE_HOME": path("cache")]
        let group = DispatchGroup()
        final class Results: @unchecked Sendable { var status: [Int32] = [0, 0]; var err = ["", ""] }
        let results = Results()
        let binary = try impastoBinary()
        for k in 0..<2 {
            let args = stylizeArgs(path("out\(k).png"))
            DispatchQueue.global().async(group: group) {
                let r = try? runProcess(binary, args, environment: env)
                results.status[k] = r?.status ?? -1
                results.err[k] = r?.stderr ?? "did not run"
            }
        }
        group.wait()
        XCTAssertEqual(results.status, [0, 0], results.err.joined(separator: " | "))
        let cached = path("cache") + "/impasto"
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: cached + "/" + name)), body)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cached).filter { $0.hasSuffix(".part") }, [])
    }

    /// A name without a hash prefix: an HTML page is not cached (the structure is checked), and
    /// with IMPASTO_WEIGHTS_SHA256 the whole hash is. A percent-encoded `../` stays in the cache.
    func testUnverifiedOrEscapingNamesAreNotCached() throws {
        let body = try body
        var h = SHA256()
        h.update(body)
        let digest = h.finalize()
        let page = Data("<html>not found</html>".utf8)
        let server = try LoopbackServer(files: ["vgg19.pth": page, "good.pth": body, "..%2F..%2Fescape.pth": body])
        defer { server.stop() }
        let cache = path("cache")
        let html = try runProcess(try impastoBinary(), stylizeArgs(path("a.png")), environment: ["IMPASTO_WEIGHTS_URL": server.url("vgg19.pth"), "XDG_CACHE_HOME": cache])
        XCTAssertNotEqual(html.status, 0)
        XCTAssertTrue(html.stderr.contains("not VGG19 weights"), html.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache + "/impasto/vgg19.pth"))
        let wrong = try runProcess(try impastoBinary(), stylizeArgs(path("b.png")),
                                   environment: ["IMPASTO_WEIGHTS_URL": server.url("good.pth"), "XDG_CACHE_HOME": cache, "IMPASTO_WEIGHTS_SHA256": String(repeating: "0", count: 64)])
        XCTAssertTrue(wrong.stderr.contains("IMPASTO_WEIGHTS_SHA256"), wrong.stderr)
        let right = try runProcess(try impastoBinary(), stylizeArgs(path("c.png")),
                                   environment: ["IMPASTO_WEIGHTS_URL": server.url("good.pth"), "XDG_CACHE_HOME": cache, "IMPASTO_WEIGHTS_SHA256": digest])
        XCTAssertEqual(right.status, 0, right.stderr)
        let escape = try runProcess(try impastoBinary(), stylizeArgs(path("d.png")), environment: ["IMPASTO_WEIGHTS_URL": server.url("..%2F..%2Fescape.pth"), "XDG_CACHE_HOME": cache])
        XCTAssertEqual(escape.status, 0, escape.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("escape.pth")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.deletingLastPathComponent().appendingPathComponent("escape.pth").path))
        XCTAssertEqual(WeightsDownload.cacheName(for: URL(string: server.url("..%2F..%2Fescape.pth"))!), "escape.pth")
    }

    /// A server that trickles a byte at a time is given up on once the grace period has passed.
    func testTricklingServerIsGivenUp() throws {
        let server = try LoopbackServer(files: ["slow.pth": try body], trickle: ["slow.pth"], trickleInterval: 0.2)
        defer { server.stop() }
        let start = Date()
        XCTAssertThrowsError(try WeightsDownload.download(URL(string: server.url("slow.pth"))!, to: tmp.appendingPathComponent("slow.pth"), expectedSHA256: nil,
                                                     minimumRate: .init(bytesPerSecond: 1000, grace: 1), progress: nil)) {
            XCTAssertTrue("\($0)".contains("too slow"), "\($0)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "no partial file left")
    }

    /// A cache directory that is a file is named as the problem, not "install pocl"; a
    /// truncated cached program binary is never handed to the driver.
    func testBadCachesAreNamed() throws {
        FileManager.default.createFile(atPath: path("afile"), contents: Data("x".utf8))
        // POCL then starts no device (it cannot make its kernel cache); other drivers may.
        let r = try runProcess(try impastoBinary(), ["devices"], environment: ["XDG_CACHE_HOME": path("afile")])
        if r.status != 0 { XCTAssertTrue(r.stderr.contains("cache directory") && r.stderr.contains("not a directory"), r.stderr) }
        let savedXDG = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"]
        setenv("XDG_CACHE_HOME", path("afile"), 1)
        let message = NoOpenCL().description
        if let savedXDG { setenv("XDG_CACHE_HOME", savedXDG, 1) } else { unsetenv("XDG_CACHE_HOME") }
        XCTAssertTrue(message.contains("cache directory") && message.contains("not a directory"), message)
        if r.status != 0 { XCTAssertTrue(r.stderr.contains("cache directory"), r.stderr) }

        let programs = tmp.appendingPathComponent("programs")
        let binary = Data((0..<4096).map { UInt8($0 % 253) })
        ProgramCache.store(binary, key: "k", in: programs)
        XCTAssertEqual(ProgramCache.load("k", from: programs), binary)
        let file = ProgramCache.file("k", in: programs)
        let whole = try Data(contentsOf: file)
        for damaged in [whole.prefix(whole.count - 100), whole.prefix(40), { var d = whole; d[d.count - 1] ^= 1; return d }()] {
            try damaged.write(to: file)
            XCTAssertNil(ProgramCache.load("k", from: programs), "a damaged binary must not load")
        }
    }
}
