const tf = require('@tensorflow/tfjs');
const fs = require('fs');
(async () => {
  await tf.setBackend('cpu');
  const dir = process.argv[2];
  const handler = {load: async () => {
    const json = JSON.parse(fs.readFileSync(dir + '/movenet-multipose.json'));
    const bin = fs.readFileSync(dir + '/movenet-multipose.bin');
    const specs = [].concat(...json.weightsManifest.map(g => g.weights));
    return {modelTopology: json.modelTopology, weightSpecs: specs,
            weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
            format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
            signature: json.signature};
  }};
  const model = await tf.loadGraphModel(handler);
  const out = {};
  for (const f of process.argv.slice(3)) {
    const data = new Int32Array(fs.readFileSync(f).buffer.slice(0));
    const x = tf.tensor(data, [1, 256, 256, 3], 'int32');
    const y = model.execute(x);
    out[f] = Array.from(await y.data());
  }
  console.log(JSON.stringify({tfjs: tf.version.tfjs, backend: tf.getBackend(), outputs: out}));
})();
