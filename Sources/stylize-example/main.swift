// Stylizing a picture from Swift with the Impasto library (the README's example, verbatim).
//   stylize-example CONTENT STYLE OUTPUT [WEIGHTS]   (WEIGHTS: the VGG19 .pth or .safetensors;
//   without it, random weights: a demo)
import Foundation
import Impasto

/// Prints every tenth iteration's losses.
final class Printer: StylizeObserver {
    func observe(_ event: StylizeEvent) throws {
        if case .iteration(let it) = event, (it.index + 1) % 10 == 0 || it.isLast {
            print("iteration \(it.index + 1) at \(it.width)x\(it.height): total loss \(it.losses.total)")
        }
    }
}

let args = CommandLine.arguments
guard args.count == 4 || args.count == 5 else {
    print("usage: stylize-example CONTENT STYLE OUTPUT [WEIGHTS]")
    exit(64)
}
do {
    let context = try CLContext(selecting: nil)  // the best GPU, else the CPU
    let weights = args.count == 5 ? try WeightsFile.load(URL(fileURLWithPath: args[4])) : try VGGWeights.random(seed: 1)
    var request = StylizeRequest(content: try ImageFile.read(args[1]), styles: [try ImageFile.read(args[2])],
                                 sizes: [(width: 64, height: 48), (width: 128, height: 96)], iterations: [20, 10])
    request.balanceWeights = args.count == 4  // random weights need their losses balanced
    request.colors = .luminance               // keep the photo's colours
    let result = try Stylization(context: context, weights: weights).run(request, observers: [Printer()])
    try ImageFile.write(result.picture, to: args[3])
    print("wrote \(args[3]) after \(result.iterations) iterations")
} catch {
    print("stylize-example: \(error)")
    exit(1)
}
