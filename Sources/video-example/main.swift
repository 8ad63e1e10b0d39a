// A video from Swift: numbered frames in a folder, stylized with the temporal loss through the
// same resumable frame loop as `impasto video`, into a folder of frames (the README's example).
//   video-example FRAMES_DIR STYLE OUTPUT_DIR   (random weights: a demo)
import Foundation
import Impasto

let args = CommandLine.arguments
guard args.count == 4 else {
    print("usage: video-example FRAMES_DIR STYLE OUTPUT_DIR")
    exit(64)
}
var settings = StylizeSettings()
settings.size = .init(width: 64, height: 48)
settings.iterations = 10
var video = VideoSettings()
video.frameIterations = 5  // each later frame starts from the one before, warped by the flow
let job = VideoJob(source: .frames(args[1]), outputDir: args[3], output: nil, settings: video,
                   picture: StylizeJob(content: nil, styles: [args[2]], settings: settings, weights: .random(seed: 1),
                                       output: PictureOutput(path: "frame.png")))
do {
    let context = try CLContext(selecting: nil)
    for try await event in job.events(on: context) {
        switch event {
        case .frame(.frameStarted(let frame, _, _, let iterations, _)):
            print("frame \(frame + 1): \(iterations) iterations")
        case .videoFinished(let outcome):
            print("video: \(outcome.frames) frames in \(args[3])")
        default:
            break
        }
    }
} catch {
    print("video-example: \(error)")
    exit(1)
}
