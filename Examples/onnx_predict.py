# LeNet-5 exported by mlpsh, run in onnxruntime on MNIST's first 1,000 test images.
#   mlpsh Examples/lenet5.mlp epochs=1 && mlpsh -c "load lenet5.safetensors; export lenet5.onnx"
#   python3 Examples/onnx_predict.py lenet5.onnx data/mnist
import gzip, sys
import numpy as np, onnxruntime as ort
model, mnist = sys.argv[1], sys.argv[2]
x = np.frombuffer(gzip.open(f"{mnist}/t10k-images-idx3-ubyte.gz").read()[16:16 + 1000 * 784], np.uint8)
y = np.frombuffer(gzip.open(f"{mnist}/t10k-labels-idx1-ubyte.gz").read()[8:8 + 1000], np.uint8)
logits = ort.InferenceSession(model).run(["logits"], {"input": x.reshape(-1, 1, 28, 28).astype(np.float32) / 255})[0]
print(f"accuracy on 1,000 test images: {100 * (logits.argmax(1) == y).mean():.1f}%")
