fn main() { println!("natter: being built"); }
