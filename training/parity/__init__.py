"""Parity runs against the golden fixtures of the official code (a fixture folder of the documented layout):

    python -m motionseg_training.parity.classifier FIXTURE_DIR OUT.safetensors [--backend torch|onnxruntime]
    python -m motionseg_training.parity.tracker FIXTURE_DIR OUT.safetensors [--backend torch|onnxruntime]
"""
