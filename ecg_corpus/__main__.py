from ecg_corpus.cli import main

main()
