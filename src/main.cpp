// main.cpp — wires the parts together (placeholder until the service lands).
int main() { return 0; }
