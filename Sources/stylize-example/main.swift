// Stylizing a picture from Swift with the Impasto library (the README's example, verbatim).
//   stylize-example CONTENT STYLE OUTPUT [WEIGHTS]   (WEIGHTS: the VGG19 .pth or .safetensors;
//   without it, random weights: a demo)
import Foundation
import Impasto

let args = CommandLine.arguments
guard args.count == 4 || args.count == 5 else {
    print("usage: stylize-example CONTENT STYLE OUTPUT [WEIGHTS]")
    exit(64)
}
var settings = StylizeSettings()
settings.size = .init(width: 128, height: 96)
settings.scales = 2                  // 64x48, then 128x96
settings.scaleIterations = [20, 10]
settings.colors = .luminance         // keep the photo's colours
let job = StylizeJob(content: args[1], styles: [args[2]], settings: settings,
                     weights: args.count == 5 ? .file(args[4]) : .random(seed: 1),  // random weights: a demo
                     output: PictureOutput(path: args[3]))
do {
    let context = try CLContext(selecting: nil)  // the best GPU, else the CPU
    // Cancelling the task that iterates the events stops the run with the picture so far.
    for try await event in job.events(on: context) {
        switch event {
        case .iteration(let it) where (it.index + 1) % 10 == 0 || it.isLast:
            print("iteration \(it.index + 1) at \(it.width)x\(it.height): total loss \(it.losses.total)")
        case .finished(let result):
            print("wrote \(args[3]) after \(result.iterations) iterations")
        default:
            break
        }
    }
} catch {
    print("stylize-example: \(error)")
    exit(1)
}
