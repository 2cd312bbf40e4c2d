/**
 * Where a model's layers, weights and KV cache go when it is split across the GPUs of one host:
 * plain arithmetic over the model's shapes and each device's memory, no CUDA calls, so it is tested
 * with simulated devices. {@link qwenchat.engine.placement.LayerPlacement} makes the one decision.
 */
package qwenchat.engine.placement;
