// A batch from Swift: every picture of a folder in one style, checked together before any
// work, done by a worker per device, and a rerun skips what is done (the README's example).
//   batch-example CONTENT_DIR STYLE OUTPUT_DIR   (random weights: a demo)
import Foundation
import Impasto

let args = CommandLine.arguments
guard args.count == 4 else {
    print("usage: batch-example CONTENT_DIR STYLE OUTPUT_DIR")
    exit(64)
}
var settings = StylizeSettings()
settings.size = .init(width: 64, height: 48)
settings.iterations = 10
do {
    let jobs = try ImageFile.pictureNames(in: args[1], field: "contentDir").map { name in
        BatchJob(origin: name, work: .picture(StylizeJob(
            content: args[1] + "/" + name, styles: [args[2]], settings: settings, weights: .random(seed: 1),
            output: PictureOutput(path: args[3] + "/" + name + ".png"))))
    }
    var options = BatchRun.Options()
    options.status = args[3] + "/status.jsonl"  // a JSON line per job event
    let batch = try BatchRun(jobs: jobs, options: options)  // every job checked and keyed; no work yet
    for try await event in batch.events(devices: [try Device.select(nil, among: Device.all())]) {
        switch event {
        case .job(let e):
            print("\(e.origin): \(e.kind)")
        case .batchFinished(let s):
            print("batch: \(s.done) done, \(s.skipped) skipped, \(s.failed) failed")
        default:
            break
        }
    }
} catch {
    print("batch-example: \(error)")
    exit(1)
}
