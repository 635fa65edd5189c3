"""cvb plugin: TCM (mixed Transformer-CNN learned image codec) from the user's LIC_TCM checkout."""
