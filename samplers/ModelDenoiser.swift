import Foundation
import Tensor

/// What a discrete-time model predicts (diffusers `prediction_type`).
public enum PredictionType: String, Sendable, Decodable {
    case epsilon
    case vPrediction = "v_prediction"
    case sample
}

/// Wraps a discrete-time model `model(xScaled, timestep) -> output` as a k-diffusion denoiser: the input is
/// scaled by 1/√(σ²+1), the timestep is the schedule's own (or log-σ interpolated for a sampler's own σ), and
/// the output is turned into the denoised estimate by prediction type. k-diffusion CompVisDenoiser /
/// CompVisVDenoiser; diffusers scale_model_input + step's pred_original_sample.
public struct DiscreteModelDenoiser: Denoiser {
    public let schedule: DiscreteSchedule
    public let prediction: PredictionType
    public let model: (_ x: Tensor, _ timestep: Double) throws -> Tensor

    public init(schedule: DiscreteSchedule, prediction: PredictionType,
                model: @escaping (_ x: Tensor, _ timestep: Double) throws -> Tensor) {
        self.schedule = schedule
        self.prediction = prediction
        self.model = model
    }

    public func denoise(_ x: Tensor, level: NoiseLevel) throws -> Tensor {
        let sigma = Float(level.sigma)
        let scale = 1 / (sigma * sigma + 1).squareRoot()
        let t = level.timestep ?? schedule.timestep(forSigma: level.sigma)
        let out = try model(x.map { $0 * scale }, t)
        switch prediction {
        case .epsilon:
            return Tensor.zip(x, out) { $0 - sigma * $1 }
        case .vPrediction:
            let cOut = -sigma / (sigma * sigma + 1).squareRoot(), cSkip = 1 / (sigma * sigma + 1)
            return Tensor.zip(out, x) { $0 * cOut + $1 * cSkip }
        case .sample:
            return out
        }
    }
}
