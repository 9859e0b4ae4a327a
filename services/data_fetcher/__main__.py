from shared.runner import main

main("data_fetcher")
