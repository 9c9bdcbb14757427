import Foundation
import Pipeline
import Testing
import Tensor
import TestSupport

/// Regional prompting (`PromptRegion`, `RegionLayout`, the pipeline's regional prediction) against training/regions.py
/// and sample.py's `generate_regional` (Tests/Fixtures/make_default_model_fixtures.py, default_model/regions.*).
@Suite struct RegionTests {
    struct Fixture: Decodable {
        struct Layout: Decodable {
            let prompt: String, width: Int, height: Int
            let split: [String]
            let regions: [[Value]]
        }
        struct Weights: Decodable { let geometry: [Double]; let weights: [[Double]] }
        struct Case: Decodable {
            let prompt: String, seed: UInt64, steps: Int, cfg_scale: Float, layout: String
            let regions: [[Value]]
        }
        let layouts: [Layout]
        let weights: [Weights]
        let cases: [Case]
    }

    /// A JSON number or string (a region is [x, y, w, h, prompt, strength]).
    enum Value: Decodable, Equatable {
        case number(Double), text(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .text(try c.decode(String.self)) }
        }
        var number: Double { if case let .number(d) = self { d } else { .nan } }
        var text: String { if case let .text(s) = self { s } else { "" } }
    }

    static func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("default_model/regions.json"))))
    }

    static func region(_ v: [Value]) -> PromptRegion {
        PromptRegion(x: Int(v[0].number), y: Int(v[1].number), width: Int(v[2].number), height: Int(v[3].number),
                     prompt: v[4].text, strength: Float(v[5].number))
    }

    /// The relation split and the two regions of every fixture prompt and size, exactly as regions.py makes them.
    @Test func automaticLayoutMatchesReference() throws {
        let fx = try Self.fixture()
        #expect(fx.layouts.count >= 20 && fx.layouts.contains { $0.regions.isEmpty } && fx.layouts.contains { !$0.regions.isEmpty })
        for layout in fx.layouts {
            let split = RegionLayout.splitRelation(layout.prompt).map { [$0.first, $0.relation.rawValue, $0.second] } ?? []
            #expect(split == layout.split, "\(layout.prompt)")
            let regions = RegionLayout.auto(prompt: layout.prompt, width: layout.width, height: layout.height)
            #expect(regions == layout.regions.map(Self.region), "\(layout.prompt) at \(layout.width)×\(layout.height)")
        }
    }

    /// Feathered weights (ramps only on edges inside the latent) as regions.py computes them, to float rounding.
    @Test func weightsMatchReference() throws {
        for w in try Self.fixture().weights {
            let g = w.geometry.map { Int($0) }
            let ours = RegionLayout.weights(x0: g[0], y0: g[1], w: g[2], h: g[3], width: g[4], height: g[5], strength: Float(w.geometry[6]))
            let expected = w.weights.flatMap { $0 }.map { Float($0) }
            #expect(ours == expected, "\(w.geometry)")
        }
    }

    /// `--region X,Y,W,H[,S]:PROMPT`: read, written back, refused with a line that shows the expected form.
    @Test func regionArguments() throws {
        let r = try PromptRegion(argument: "0, 8,64,120:a red circle: big")
        #expect(r == PromptRegion(x: 0, y: 8, width: 64, height: 120, prompt: "a red circle: big", strength: 1.5))
        #expect(try PromptRegion(argument: r.argument) == r)
        let s = try PromptRegion(argument: "8,0,16,16,2.5:star")
        #expect(s.strength == 2.5 && s.argument == "8,0,16,16,2.5:star")
        for bad in ["0,0,64:a circle", "0,0,64,64", "0,0,64,64:", "a,0,64,64:x", "0,0,64,64,strong:x", "0,0,64,64,1,2:x"] {
            #expect(throws: PipelineError.self, "\(bad)") { try PromptRegion(argument: bad) }
            do { _ = try PromptRegion(argument: bad) } catch { #expect("\(error)".contains("X,Y,WIDTH,HEIGHT")) }
        }
    }

    /// Requests with regions are checked against the image size, stored in JSON (strength optional) and in A1111's text.
    @Test func requestsWithRegions() throws {
        var request = GenerationRequest(prompt: "a red circle left of a blue square")
        (request.width, request.height) = (128, 128)
        request.layout = "auto"
        #expect(request.resolvedRegions().map(\.prompt) == ["a red circle", "a blue square"])
        request.regions = [PromptRegion(x: 64, y: 64, width: 64, height: 64, prompt: "a star", strength: 2)]
        try request.validate()
        #expect(request.resolvedRegions().count == 3)
        let text = request.a1111Parameters(samplerName: "Euler", modelName: "m")
        #expect(text.contains("Layout: auto") && text.contains("Regions: \"64,64,64,64,2:a star\""))
        let decoded = try JSONDecoder().decode(GenerationRequest.self, from: JSONEncoder().encode(request))
        #expect(decoded == request)
        let json = #"{"prompt": "p", "width": 128, "height": 128, "regions": [{"x": 0, "y": 0, "width": 64, "height": 128, "prompt": "a ring"}]}"#
        let fromJSON = try JSONDecoder().decode(GenerationRequest.self, from: Data(json.utf8))
        #expect(fromJSON.regions == [PromptRegion(x: 0, y: 0, width: 64, height: 128, prompt: "a ring")] && fromJSON.layout == "off")

        func message(_ change: (inout GenerationRequest) -> Void) -> String {
            var r = request
            change(&r)
            do { try r.validate(); return "" } catch { return "\(error)" }
        }
        #expect(message { $0.regions[0].x = 72 }.contains("region 1 (72,64,64,64,2:a star): must lie inside the 128×128 image"))
        #expect(message { $0.regions[0].width = 60 }.contains("multiples of 8"))
        #expect(message { $0.regions[0].strength = 0 }.contains("strength must be in (0, 100]"))
        #expect(message { $0.regions[0].prompt = " " }.contains("the prompt is empty"))
        #expect(message { $0.layout = "grid" }.contains("unknown layout 'grid' (supported: off, auto)"))
    }

    /// A Stable Diffusion model (CLIP conditioning, KL latents, 4-channel U-Net) with regions: one covering the whole
    /// image with the prompt itself blends a prediction with itself — the plain image, to float rounding, whatever the
    /// strength; with another prompt the image changes.
    @Test func wholeImageRegionOnAStableDiffusionModel() throws {
        let pipeline = try Pipeline(model: Fixtures.path("models/tiny_sd"), mergesFile: PipelineTests.merges)
        var request = GenerationRequest(prompt: "a photo of a cat")
        (request.width, request.height, request.steps, request.cfgScale, request.seed) = (64, 64, 4, 7.5, 11)
        (request.sampler, request.schedule, request.negativePrompt) = ("euler", "normal", "blurry")
        let plain = try pipeline.generate(request)
        request.regions = [PromptRegion(x: 0, y: 0, width: 64, height: 64, prompt: "a photo of a cat", strength: 2.5)]
        #expect(scaledMaxError(try pipeline.generate(request), plain) <= 1e-5)
        request.regions[0].prompt = "a red bicycle"
        #expect(scaledMaxError(try pipeline.generate(request), plain) > 1e-3)
        request.regions = [PromptRegion(x: 0, y: 0, width: 32, height: 64, prompt: "a red bicycle"),
                           PromptRegion(x: 24, y: 16, width: 40, height: 48, prompt: "a dog", strength: 1)]
        let two = try pipeline.generate(request)
        #expect(two.shape == plain.shape && scaledMaxError(two, plain) > 1e-3)
    }

    /// Generations with regions (automatic, and given with their own strengths) against sample.py's
    /// generate_regional: final latents within 1e-3 of their scale, image PSNR ≥ 60 dB (as DefaultModelTests); and
    /// the regions do change the image. With the image's and the areas' U-Net calls at once (this small model's
    /// default) and one after the other.
    @Test(arguments: [true, false])
    func regionalGenerationMatchesPyTorch(concurrentCalls: Bool) throws {
        let pipeline = try Pipeline(model: DefaultModelTests.folder, mergesFile: "")
        let fx = try FixtureFile("default_model/regions.safetensors")
        for (i, c) in try Self.fixture().cases.enumerated() {
            var request = GenerationRequest(prompt: c.prompt)
            (request.width, request.height, request.steps, request.cfgScale) = (128, 128, c.steps, c.cfg_scale)
            (request.sampler, request.schedule, request.seed) = ("euler", "normal", c.seed)
            request.layout = c.layout
            request.regions = c.regions.map(Self.region)
            #expect(!request.resolvedRegions().isEmpty)
            let actual = try Pipeline.withConcurrentCalls(concurrentCalls) {
                try DefaultModelTests.expectReference(pipeline, request, fx, "case\(i)").toArray()
            }
            if i == 0 {
                var plain = request
                plain.layout = "off"
                let other = try pipeline.generate(plain).toArray()
                let difference = zip(other, actual).map { abs($0 - $1) }.max() ?? 0
                #expect(difference > 0.1, "regions left the image unchanged")
            }
        }
    }
}
