"""Make musicnn_reference.json: outputs of the original TensorFlow musicnn, for the port's test.

Not part of the test suite and not run by CI: it needs TensorFlow, which the project does not
install. It was run once in a separate virtualenv with `tensorflow-cpu`, `tf-keras` and
`librosa`, plus `pip install --no-deps musicnn==0.1.0`:

    TF_USE_LEGACY_KERAS=1 python tests/data/musicnn_reference.py \
        ../shared/data/gtzan-dev/genres/metal/metal.00000.wav tests/data/musicnn_reference.json

It builds musicnn's own graph (musicnn.models.define_model), restores the packaged checkpoint
and feeds the first three non-overlapping 3-s patches of musicnn's own input representation.
"""

import json
import os
import sys

import librosa
import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()
import musicnn  # noqa: E402
from musicnn import models  # noqa: E402

PATCH = 187  # musicnn: librosa.time_to_frames(3, sr=16000, hop_length=256, n_fft=512) + 1


def reference(audio_path: str, model: str) -> dict:
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, PATCH, 96])
        training = tf.compat.v1.placeholder(tf.bool)
        logits, *_, max_pool, _ = models.define_model(x, training, model, 50)
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().restore(sess, os.path.dirname(musicnn.__file__) + f"/{model}/")
        audio, _ = librosa.load(audio_path, sr=16000)
        mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512,
                                             n_mels=96).T
        mel = np.log10(10000 * mel + 1).astype(np.float32)
        batch = np.stack([mel[k * PATCH:(k + 1) * PATCH] for k in range(3)])
        tags, pooled = sess.run([tf.nn.sigmoid(logits), max_pool],
                                feed_dict={x: batch, training: False})
    return {"tags": np.round(tags.astype(float), 7).tolist(),
            "max_pool_patch0": np.round(pooled[0].astype(float), 5).tolist()}


if __name__ == "__main__":
    track, out = sys.argv[1], sys.argv[2]
    result = {"track": os.path.basename(track), "patches": "first three 3-s patches, no overlap",
              "tensorflow": tf.__version__,
              **{m: reference(track, m) for m in ("MSD_musicnn", "MTT_musicnn")}}
    with open(out, "w") as fh:
        json.dump(result, fh)
