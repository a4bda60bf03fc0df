/* A TCP sink for the published-port benchmark: accepts connections on the given port one at a
 * time and reads each until EOF, then closes it so the sender knows every byte arrived.
 * Built statically by bench.py and added to the benchmark's busybox image; busybox's own nc
 * copies in 4 KiB steps and would be the bottleneck instead of the network path under test. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
    int port = argc > 1 ? atoi(argv[1]) : 5000;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = INADDR_ANY};
    if (listener < 0 || bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(listener, 16) != 0) {
        perror("sink");
        return 1;
    }
    static char buf[1 << 18];
    for (;;) {
        int conn = accept(listener, NULL, NULL);
        if (conn < 0) continue;
        while (read(conn, buf, sizeof buf) > 0) {
        }
        close(conn);
    }
}
