# The medshare image — nodes (`medshare node`) and gateways (`medshare
# gateway`) — built FROM scratch around the static binary that `make image`
# builds first (CGO_ENABLED=0); no base image is pulled. Time zones are
# compiled in (time/tzdata); Docker supplies /etc/hosts and /etc/resolv.conf.
FROM scratch
COPY bin/medshare-static /medshare
COPY --chown=65532:65532 bin/image-data/ /data/
USER 65532:65532
VOLUME ["/data"]
EXPOSE 7051 7052 8443
ENTRYPOINT ["/medshare"]
CMD ["node"]
