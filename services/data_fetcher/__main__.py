from shared.entrypoints.runner import main

main("data_fetcher")
