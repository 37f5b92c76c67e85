"""Parity runs against the golden fixtures of the official code (``../shared/fixtures``):

    python -m motionseg_training.parity.classifier FIXTURE_DIR OUT.safetensors [--backend torch|onnxruntime]
    python -m motionseg_training.parity.tracker FIXTURE_DIR OUT.safetensors [--backend torch|onnxruntime]
"""
