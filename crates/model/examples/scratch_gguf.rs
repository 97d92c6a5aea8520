use candle_core::{Device, DType};
use saex_hooks::{Capture, Hook};
use saex_model::{gemma, llama, weights::{GgufFile, Weights}, ops, Stop};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (file, refp) = (&args[1], &args[2]);
    let t0 = std::time::Instant::now();
    let g = GgufFile::open(std::path::Path::new(file)).unwrap();
    let arch = g.meta("general.architecture").unwrap().to_string().unwrap().clone();
    let r = candle_core::safetensors::load(refp, &Device::Cpu).unwrap();
    let ids: Vec<u32> = r["p1.tokens"].to_dtype(DType::I64).unwrap().to_vec1::<i64>().unwrap().into_iter().map(|x| x as u32).collect();
    let idt = ops::ids_tensor(&[ids.clone()]).unwrap();
    let hooks = [Hook::ResidPre(0), Hook::ResidPre(6), Hook::ResidPre(12)];
    let mut cap = Capture::new(hooks);
    let logits = if arch == "gemma3" {
        let cfg = gemma::Config::from_gguf(&g, &arch).unwrap();
        let n = cfg.num_hidden_layers;
        let m = gemma::Model::load(cfg, &Weights::open_gguf(g, gemma::gguf_name)).unwrap();
        eprintln!("load {:?}", t0.elapsed());
        m.forward(&idt, 0, None, &mut cap, Stop { blocks: n, logits: true }).unwrap().unwrap()
    } else {
        let cfg = llama::Config::from_gguf(&g, &arch).unwrap();
        let n = cfg.num_hidden_layers;
        let m = llama::Model::load(cfg, &Weights::open_gguf(g, llama::gguf_name)).unwrap();
        eprintln!("load {:?}", t0.elapsed());
        m.forward(&idt, 0, None, &mut cap, Stop { blocks: n, logits: true }).unwrap().unwrap()
    };
    for h in hooks {
        let a = cap.get(h).unwrap().get(0).unwrap();
        let e = &r[&format!("p1.{h}")];
        let d = (a - e).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        let rms = e.sqr().unwrap().mean_all().unwrap().sqrt().unwrap().to_scalar::<f32>().unwrap();
        println!("{h}: rel {:.3e}", d / rms);
    }
    let last = logits.get(0).unwrap().get(ids.len() - 1).unwrap();
    let e = &r["p1.logits_last"];
    let d = (&last - e).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    let rms = e.sqr().unwrap().mean_all().unwrap().sqrt().unwrap().to_scalar::<f32>().unwrap();
    println!("logits rel {:.3e} top1 {} total {:?}", d / rms, saex_model::generate::argmax(&last.to_vec1::<f32>().unwrap()), t0.elapsed());
}
